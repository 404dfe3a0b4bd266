//! The harness's own tests, on a page that exists whatever the console has: the API docs
//! (Swagger UI, served by the binary, rendered by JavaScript).

use std::time::Duration;

use anyhow::{Result, ensure};

use crate::browser_tests;
use crate::harness::{self, Backend, BrowserTest, Failure, PHONE, find_chromedriver};

const DOCS: &str = "/api/v1/docs/";

async fn opens_a_real_page_and_waits_for_what_its_script_draws(t: &mut BrowserTest) -> Result<()> {
    t.browser.goto(DOCS).await?;
    // Drawn by Swagger UI's JavaScript after the page loaded: a wait, not a read.
    t.browser.wait_for_text(".swagger-ui .info .title", "Switchboard").await?;
    ensure!(t.browser.path().await? == DOCS);
    Ok(())
}

async fn switches_to_phone_width_and_back(t: &mut BrowserTest) -> Result<()> {
    t.browser.goto(DOCS).await?;
    let size = async |t: &BrowserTest| -> Result<(u64, u64)> {
        let v = t.browser.eval("return [window.innerWidth, window.innerHeight];").await?;
        Ok((v[0].as_u64().unwrap_or(0), v[1].as_u64().unwrap_or(0)))
    };
    ensure!(size(t).await? == (1280, 900), "desktop viewport: {:?}", size(t).await?);
    t.browser.phone_width().await?;
    ensure!(size(t).await? == (u64::from(PHONE.0), u64::from(PHONE.1)), "phone viewport: {:?}", size(t).await?);
    t.browser.desktop_width().await?;
    ensure!(size(t).await? == (1280, 900));
    Ok(())
}

async fn a_wait_that_times_out_says_what_it_waited_for(t: &mut BrowserTest) -> Result<()> {
    t.browser.goto(DOCS).await?;
    t.browser.set_wait(Duration::from_millis(300));
    let err = t.browser.wait_for("#no-such-thing").await.err().map(|e| format!("{e:#}")).unwrap_or_default();
    ensure!(
        err.contains("waited 300ms") && err.contains("#no-such-thing") && err.contains(DOCS),
        "unhelpful time-out: {err}"
    );
    let err = t.browser.wait_for_text("body", "no such words").await.err().map(|e| format!("{e:#}"));
    ensure!(err.is_some_and(|e| e.contains("no such words")));
    Ok(())
}

browser_tests! {
    opens_a_real_page_and_waits_for_what_its_script_draws,
    switches_to_phone_width_and_back,
    a_wait_that_times_out_says_what_it_waited_for,
}

/// Removes a failure's artifacts and checks they were a PNG and the page's HTML.
fn take_artifacts(name: &str) {
    let dir = harness::artifacts_dir();
    let (png, html) = (dir.join(format!("{name}.png")), dir.join(format!("{name}.html")));
    let png_bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert!(png_bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is a PNG", png.display());
    let html_text = std::fs::read_to_string(&html).unwrap_or_else(|e| panic!("{}: {e}", html.display()));
    assert!(html_text.contains("swagger-ui"), "{} is the page's HTML", html.display());
    let _ = std::fs::remove_file(png);
    let _ = std::fs::remove_file(html);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_that_fails_leaves_a_screenshot_and_the_html() {
    let name = "selftest.deliberate_error";
    let outcome = harness::try_run(name, Backend::Sqlite, async |t: &mut BrowserTest| {
        t.browser.goto(DOCS).await?;
        t.browser.wait_for(".swagger-ui").await?;
        anyhow::bail!("deliberate")
    })
    .await;
    assert!(matches!(&outcome, Err(Failure::Error(e)) if e.to_string() == "deliberate"), "{outcome:?}");
    take_artifacts(name);

    let name = "selftest.deliberate_panic";
    let outcome = harness::try_run(name, Backend::Sqlite, async |t: &mut BrowserTest| {
        t.browser.goto(DOCS).await?;
        t.browser.wait_for(".swagger-ui").await?;
        panic!("deliberate");
    })
    .await;
    assert!(matches!(outcome, Err(Failure::Panic(_))), "{outcome:?}");
    take_artifacts(name);
}

#[test]
fn a_missing_chromedriver_fails_and_says_how_to_install_it() {
    let nowhere = std::env::temp_dir().join("switchboard-no-chromedriver-here");
    let err = find_chromedriver(Some(nowhere.as_os_str()), None).unwrap_err().to_string();
    assert!(err.contains("CHROMEDRIVER=") && err.contains("apt-get install chromium chromium-driver"), "{err}");
    let err = find_chromedriver(None, Some(nowhere.as_os_str())).unwrap_err().to_string();
    assert!(err.contains("not found") && err.contains("apt-get install chromium chromium-driver"), "{err}");
    let real = find_chromedriver(None, Some(std::ffi::OsStr::new("/usr/local/bin:/usr/bin")));
    assert!(real.is_ok(), "chromedriver is installed on machines that run these tests: {real:?}");
}

#[test]
fn test_names_are_file_names() {
    assert_eq!(harness::test_name("browser::selftest::sqlite", "opens"), "selftest.sqlite.opens");
    assert_eq!(harness::test_name("browser", "opens"), "opens");
}
