//! The browser tests' harness: Debian's headless Chromium driven through chromedriver
//! (WebDriver, `fantoccini`) against the real server on a fresh database.
//!
//! - One chromedriver per test process, on a free port, found through `CHROMEDRIVER` or
//!   `PATH`; started by the first test that needs it and stopped when the last one still
//!   running lets go of it. A missing chromedriver fails the test and says how to install it.
//! - A fresh browser session (its own profile) per test: headless, 1280×900, or phone
//!   width (390×844) on request; at most [`concurrency`] browsers at once in the process.
//! - Each test body runs inside [`run`]: if it returns an error or panics, a screenshot and
//!   the page's HTML are saved to `target/browser-artifacts/<test name>.png|.html` before the
//!   session closes; the session is closed whatever happened.
//! - Waiting is polling with a deadline ([`Browser::wait_for`], [`Browser::wait_for_text`]),
//!   never a fixed sleep.

use std::ffi::{OsStr, OsString};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
pub use switchboard_tests::Backend;
use switchboard_tests::{TestApp, spawn_app};
use tokio::sync::Semaphore;

/// The desktop window the tests start with.
pub const DESKTOP: (u32, u32) = (1280, 900);
/// A phone's viewport (an iPhone 12–15), for [`Browser::phone_width`].
pub const PHONE: (u32, u32) = (390, 844);
/// How long a wait lasts by default before it fails.
pub const WAIT: Duration = Duration::from_secs(5);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(25);

const INSTALL_HINT: &str = "the browser tests need Debian's headless Chromium and its WebDriver: \
     `apt-get install chromium chromium-driver` (scripts/test.sh installs them when run as root), \
     or set CHROMEDRIVER=/path/to/chromedriver (and CHROMIUM=/path/to/chromium if it is not \
     /usr/bin/chromium)";

// ---------------------------------------------------------------------------------------
// Running a test
// ---------------------------------------------------------------------------------------

/// What a test body gets: the running application and a browser pointed at it.
pub struct BrowserTest {
    pub app: TestApp,
    pub browser: Browser,
}

/// Generates `mod sqlite` and `mod postgres` with one browser test each per named
/// `async fn name(t: &mut BrowserTest) -> anyhow::Result<()>`.
#[macro_export]
macro_rules! browser_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let name = $crate::harness::test_name(module_path!(), stringify!($name));
                    $crate::harness::run(&name, $crate::harness::Backend::Sqlite, super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let name = $crate::harness::test_name(module_path!(), stringify!($name));
                    $crate::harness::run(&name, $crate::harness::Backend::Postgres, super::$name).await;
                }
            )*
        }
    };
}

/// The test's name as libtest prints it, with `.` for `::` (a file name):
/// `harness.sqlite.opens_a_page`.
#[must_use]
pub fn test_name(module_path: &str, name: &str) -> String {
    let path = module_path.split_once("::").map_or("", |(_crate, rest)| rest);
    if path.is_empty() { name.to_owned() } else { format!("{}.{name}", path.replace("::", ".")) }
}

/// Runs `body` against a fresh server on `backend` and a fresh browser; on failure saves
/// the artifacts, then fails the test (re-raising a panic as it was).
///
/// # Panics
/// When the test fails.
pub async fn run<F>(name: &str, backend: Backend, body: F)
where
    F: for<'a> AsyncFnOnce(&'a mut BrowserTest) -> Result<()>,
{
    match try_run(name, backend, body).await {
        Ok(()) => {}
        Err(Failure::Error(e)) => panic!("browser test {name} failed: {e:#}"),
        Err(Failure::Panic(p)) => std::panic::resume_unwind(p),
    }
}

/// How a test failed.
pub enum Failure {
    Error(anyhow::Error),
    Panic(Box<dyn std::any::Any + Send>),
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Error(e) => write!(f, "Error({e:#})"),
            Self::Panic(p) => {
                let msg = p.downcast_ref::<String>().map(String::as_str).or_else(|| p.downcast_ref::<&str>().copied());
                write!(f, "Panic({msg:?})")
            }
        }
    }
}

/// [`run`] without the final panic: what the harness's own tests use.
///
/// # Errors
/// How the test failed (the harness's own set-up errors included).
pub async fn try_run<F>(name: &str, backend: Backend, body: F) -> Result<(), Failure>
where
    F: for<'a> AsyncFnOnce(&'a mut BrowserTest) -> Result<()>,
{
    // The driver first: a machine without it fails at once, loudly.
    let driver = DriverLease::acquire().map_err(Failure::Error)?;
    let _permit = BROWSERS.acquire().await.map_err(|e| Failure::Error(e.into()))?;
    let app = spawn_app(backend).await;
    let browser = Browser::open(&driver, &app.base).await.map_err(Failure::Error)?;
    let mut t = BrowserTest { app, browser };

    let outcome = match AssertUnwindSafe(body(&mut t)).catch_unwind().await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Failure::Error(e)),
        Err(panic) => Err(Failure::Panic(panic)),
    };
    if outcome.is_err() {
        match t.browser.save_artifacts(name).await {
            Ok(paths) => eprintln!("browser test {name}: saved {}", paths.join(", ")),
            Err(e) => eprintln!("browser test {name}: could not save the artifacts: {e:#}"),
        }
    }
    if let Err(e) = t.browser.client.clone().close().await {
        eprintln!("browser test {name}: closing the browser session: {e}");
    }
    drop(t);
    outcome
}

/// Browsers open at once in this process: `BROWSER_TESTS_CONCURRENCY`, 2 by default
/// (each Chromium takes about a core while a page loads; CI has two).
#[must_use]
pub fn concurrency() -> usize {
    std::env::var("BROWSER_TESTS_CONCURRENCY").ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(2)
}

static BROWSERS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(concurrency()));

/// Where failed tests leave their screenshot and HTML: `<target dir>/browser-artifacts`.
#[must_use]
pub fn artifacts_dir() -> PathBuf {
    // The test binary is `<target>/<profile>/deps/browser-<hash>`.
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent()?.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("browser-artifacts")
}

// ---------------------------------------------------------------------------------------
// chromedriver: one per process
// ---------------------------------------------------------------------------------------

/// Finds chromedriver: `CHROMEDRIVER` if set (it must exist), else the first on `path`.
///
/// # Errors
/// A message saying how to install it.
pub fn find_chromedriver(env: Option<&OsStr>, path: Option<&OsStr>) -> Result<PathBuf> {
    if let Some(given) = env.filter(|v| !v.is_empty()) {
        let given = PathBuf::from(given);
        if given.is_file() {
            return Ok(given);
        }
        bail!("CHROMEDRIVER={} does not exist; {INSTALL_HINT}", given.display());
    }
    path.into_iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("chromedriver"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            anyhow!("chromedriver not found (CHROMEDRIVER is unset and there is none on PATH); {INSTALL_HINT}")
        })
}

struct Driver {
    child: Child,
    url: String,
    users: usize,
}

static DRIVER: Mutex<Option<Driver>> = Mutex::new(None);

/// A share of the process's chromedriver; the last lease dropped stops it.
pub struct DriverLease {
    url: String,
}

impl DriverLease {
    fn acquire() -> Result<Self> {
        let mut slot = DRIVER.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(driver) = slot.as_mut() {
            driver.users += 1;
            return Ok(Self { url: driver.url.clone() });
        }
        let path = find_chromedriver(std::env::var_os("CHROMEDRIVER").as_deref(), std::env::var_os("PATH").as_deref())?;
        let driver = start_driver(&path)?;
        let url = driver.url.clone();
        *slot = Some(driver);
        Ok(Self { url })
    }
}

impl Drop for DriverLease {
    fn drop(&mut self) {
        let mut slot = DRIVER.lock().unwrap_or_else(PoisonError::into_inner);
        let last = slot.as_mut().is_some_and(|d| {
            d.users -= 1;
            d.users == 0
        });
        if last && let Some(mut driver) = slot.take() {
            let _ = driver.child.kill();
            let _ = driver.child.wait();
        }
    }
}

fn start_driver(path: &Path) -> Result<Driver> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("find a free port for chromedriver")?
        .port();
    let verbose = std::env::var_os("BROWSER_LOG").is_some();
    let mut child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(if verbose { Stdio::inherit() } else { Stdio::null() })
        .stderr(if verbose { Stdio::inherit() } else { Stdio::null() })
        .spawn()
        .with_context(|| format!("start {}; {INSTALL_HINT}", path.display()))?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().context("watch chromedriver")? {
            bail!("{} exited at start ({status}); run it by hand to see why; {INSTALL_HINT}", path.display());
        }
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return Ok(Driver { child, url: format!("http://{addr}"), users: 1 });
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{} did not listen on {addr} within 20 s", path.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Chromium: `CHROMIUM` if set, else Debian's, else whatever chromedriver finds.
fn chromium_binary() -> Option<OsString> {
    std::env::var_os("CHROMIUM")
        .filter(|v| !v.is_empty())
        .or_else(|| Path::new("/usr/bin/chromium").is_file().then(|| "/usr/bin/chromium".into()))
}

// ---------------------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------------------

/// One browser session pointed at one server.
pub struct Browser {
    client: Client,
    base: String,
    /// How long waits last ([`WAIT`] unless changed with [`Browser::set_wait`]).
    wait: Duration,
}

/// The password [`BrowserTest::sign_in_agent`] sets.
pub const PASSWORD: &str = "correct horse battery staple";

impl BrowserTest {
    /// The agent holding API token `token` sets a password through an invitation link
    /// (made by the admin whose token is `app.token`), as a new agent would, then signs in
    /// through the form with it ([`PASSWORD`]).
    ///
    /// # Errors
    /// The API refused, or a page was not as expected.
    pub async fn sign_in_agent(&self, token: &str) -> Result<()> {
        let app = &self.app;
        let me: Value = app
            .client
            .get(app.url("/api/v1/agents/me"))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let (id, email) = (me["id"].as_str().unwrap_or_default(), me["email"].as_str().unwrap_or_default());
        let invitation: Value = app
            .client
            .post(app.url(&format!("/api/v1/agents/{id}/invitation")))
            .bearer_auth(&app.token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let url = invitation["url"].as_str().context("the invitation's url")?;
        let path = url.strip_prefix(self.browser.base()).with_context(|| format!("{url} is not on this server"))?;
        self.browser.goto(path).await?;
        self.browser.fill("#password", PASSWORD).await?;
        self.browser.fill("#confirm", PASSWORD).await?;
        self.browser.click("form button[type=submit]").await?;
        self.browser.wait_for_path("the password to be set", |p| p.starts_with("/sign-in")).await?;
        self.browser.sign_in(email, PASSWORD).await
    }

    /// The admin (`app.token`'s agent) signs in: [`BrowserTest::sign_in_agent`].
    ///
    /// # Errors
    /// As [`BrowserTest::sign_in_agent`].
    pub async fn sign_in(&self) -> Result<()> {
        self.sign_in_agent(&self.app.token).await
    }
}

impl Browser {
    async fn open(driver: &DriverLease, base: &str) -> Result<Self> {
        let (w, h) = DESKTOP;
        let mut chrome = json!({
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--disable-extensions",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-search-engine-choice-screen",
                "--lang=en-US",
                format!("--window-size={w},{h}"),
            ],
        });
        if let Some(binary) = chromium_binary() {
            chrome["binary"] = Value::String(binary.to_string_lossy().into_owned());
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), chrome);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .with_context(|| format!("open a Chromium session through chromedriver; {INSTALL_HINT}"))?;
        let browser = Self { client, base: base.trim_end_matches('/').to_owned(), wait: WAIT };
        browser.viewport(w, h).await?;
        Ok(browser)
    }

    /// The WebDriver client, for what the helpers below do not cover.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The server's base URL (`http://127.0.0.1:<port>`).
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Changes how long waits last from now on.
    pub fn set_wait(&mut self, wait: Duration) {
        self.wait = wait;
    }

    /// Opens `path` on the server (`/`, `/sign-in`, `/c/…`) and waits for it to load.
    ///
    /// # Errors
    /// A WebDriver error.
    pub async fn goto(&self, path: &str) -> Result<()> {
        self.client.goto(&format!("{}{path}", self.base)).await.with_context(|| format!("open {path}"))
    }

    /// The current URL's path and query (`/c/123?tab=notes`).
    ///
    /// # Errors
    /// A WebDriver error.
    pub async fn path(&self) -> Result<String> {
        let url = self.client.current_url().await?;
        Ok(match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        })
    }

    /// Runs `script` in the page (`return …;` to get a value back). WebDriver scripts are
    /// not subject to the page's Content-Security-Policy.
    ///
    /// # Errors
    /// A WebDriver or script error.
    pub async fn eval(&self, script: &str) -> Result<Value> {
        self.client.execute(script, Vec::new()).await.with_context(|| format!("run {script:?}"))
    }

    /// Polls `probe` every 25 ms until it answers `Some`, for at most the wait time.
    /// A probe's error (an element gone stale between two calls, say) counts as "not yet".
    ///
    /// # Errors
    /// On time-out: what was awaited and the probe's last error.
    pub async fn wait_until<T>(&self, what: &str, mut probe: impl AsyncFnMut() -> Result<Option<T>>) -> Result<T> {
        let deadline = Instant::now() + self.wait;
        let mut last_error = None;
        loop {
            match probe().await {
                Ok(Some(found)) => return Ok(found),
                Ok(None) => {}
                Err(e) => last_error = Some(e),
            }
            if Instant::now() >= deadline {
                let path = self.path().await.unwrap_or_default();
                return Err(match last_error {
                    Some(e) => e.context(format!("waited {:?} on {path} for {what}", self.wait)),
                    None => anyhow!("waited {:?} on {path} for {what}", self.wait),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The first element matching `css`, once there is one.
    ///
    /// # Errors
    /// None appeared within the wait time.
    pub async fn wait_for(&self, css: &str) -> Result<Element> {
        self.wait_until(&format!("an element {css:?}"), async || {
            Ok(self.client.find_all(Locator::Css(css)).await?.into_iter().next())
        })
        .await
    }

    /// The first element matching `css` whose visible text contains `text`, once there is one.
    ///
    /// # Errors
    /// None appeared within the wait time (the message lists the texts seen last).
    pub async fn wait_for_text(&self, css: &str, text: &str) -> Result<Element> {
        let mut seen = Vec::new();
        let found = self
            .wait_until(&format!("{text:?} in an element {css:?}"), async || {
                seen.clear();
                for el in self.client.find_all(Locator::Css(css)).await? {
                    let t = el.text().await?;
                    if t.contains(text) {
                        return Ok(Some(el));
                    }
                    seen.push(t);
                }
                Ok(None)
            })
            .await;
        found.with_context(|| format!("texts seen last: {seen:?}"))
    }

    /// Waits until nothing matches `css`.
    ///
    /// # Errors
    /// Something still matched at the end of the wait time.
    pub async fn wait_for_gone(&self, css: &str) -> Result<()> {
        self.wait_until(&format!("no element {css:?}"), async || {
            Ok(self.client.find_all(Locator::Css(css)).await?.is_empty().then_some(()))
        })
        .await
    }

    /// Waits until the page's live stream (`/live`, on `<body>`) is open, so that what
    /// happens next reaches the page.
    ///
    /// # Errors
    /// It did not open within the wait time.
    pub async fn wait_for_live(&self) -> Result<()> {
        self.wait_until("the live stream to open", async || {
            let open = self
                .eval(
                    "const d = document.body['htmx-internal-data']; \
                     return !!(d && d.sseEventSource && d.sseEventSource.readyState === 1);",
                )
                .await?;
            Ok((open == Value::Bool(true)).then_some(()))
        })
        .await
    }

    /// Waits until the current path (with its query) satisfies `pred`.
    ///
    /// # Errors
    /// It did not within the wait time.
    pub async fn wait_for_path(&self, what: &str, pred: impl Fn(&str) -> bool) -> Result<String> {
        self.wait_until(what, async || {
            let path = self.path().await?;
            Ok(pred(&path).then_some(path))
        })
        .await
    }

    /// The visible text of the first element matching `css` (waiting for it).
    ///
    /// # Errors
    /// No such element within the wait time.
    pub async fn text(&self, css: &str) -> Result<String> {
        Ok(self.wait_for(css).await?.text().await?)
    }

    /// Clicks the first element matching `css` (waiting for it).
    ///
    /// # Errors
    /// No such element, or it cannot be clicked.
    pub async fn click(&self, css: &str) -> Result<()> {
        // A live update may swap the element (htmx) between finding and clicking it: the
        // click then meets a stale reference, and the element is found again.
        for _ in 0..5 {
            match self.wait_for(css).await?.click().await {
                Err(e) if e.is_stale_element_reference() => continue,
                other => return other.with_context(|| format!("click {css:?}")),
            }
        }
        bail!("click {css:?}: the element was replaced five times in a row")
    }

    /// Replaces the value of the field matching `css` (waiting for it) by typing `value`.
    ///
    /// # Errors
    /// No such field, or it cannot be typed into.
    pub async fn fill(&self, css: &str, value: &str) -> Result<()> {
        let field = self.wait_for(css).await?;
        field.clear().await.with_context(|| format!("clear {css:?}"))?;
        field.send_keys(value).await.with_context(|| format!("type into {css:?}"))
    }

    /// Types keys into whatever has the focus (keyboard-only flows; `\u{e007}` is Enter,
    /// see `fantoccini::key::Key`).
    ///
    /// # Errors
    /// A WebDriver error.
    pub async fn keys(&self, keys: &str) -> Result<()> {
        self.client.active_element().await?.send_keys(keys).await.context("type into the focused element")
    }

    /// Fills the sign-in form (`/sign-in`, fields `email` and `password`) and submits it,
    /// without waiting for the outcome: for tests of a refused sign-in.
    ///
    /// # Errors
    /// The form is not there.
    pub async fn submit_sign_in(&self, email: &str, password: &str) -> Result<()> {
        self.goto("/sign-in").await?;
        self.fill("form input[name=email]", email).await?;
        self.fill("form input[name=password]", password).await?;
        self.click("form button[type=submit], form input[type=submit]").await
    }

    /// Signs in through the form and waits until the browser has left `/sign-in`.
    ///
    /// # Errors
    /// The form is not there, or the sign-in was refused (the message carries the page's
    /// error message, if it shows one).
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<()> {
        self.submit_sign_in(email, password).await?;
        let left = self.wait_for_path("the browser to leave /sign-in", |p| !p.starts_with("/sign-in")).await;
        match left {
            Ok(_) => Ok(()),
            Err(e) => {
                let alert = match self.client.find(Locator::Css("#error-message")).await {
                    Ok(el) => el.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                Err(e.context(format!("signing in as {email} failed; the page says {alert:?}")))
            }
        }
    }

    /// Makes the viewport (not the window) `width`×`height` CSS pixels.
    ///
    /// # Errors
    /// A WebDriver error, or the browser would not take that size.
    pub async fn viewport(&self, width: u32, height: u32) -> Result<()> {
        // The window includes the browser's chrome (none in headless mode, but do not count
        // on it), and Chromium applies a resize when it gets to it: look until the viewport
        // has its size, correcting the window by the difference each time.
        let mut window = (i64::from(width), i64::from(height));
        let mut inner = (0, 0);
        for _ in 0..5 {
            let w = u32::try_from(window.0.max(1)).unwrap_or(width);
            let h = u32::try_from(window.1.max(1)).unwrap_or(height);
            self.client.set_window_size(w, h).await?;
            let deadline = Instant::now() + Duration::from_millis(500);
            loop {
                inner = self.inner_size().await?;
                if inner == (width, height) {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(POLL).await;
            }
            window =
                (window.0 + i64::from(width) - i64::from(inner.0), window.1 + i64::from(height) - i64::from(inner.1));
        }
        bail!("asked for a {width}x{height} viewport, got {}x{}", inner.0, inner.1)
    }

    async fn inner_size(&self) -> Result<(u32, u32)> {
        let v = self.eval("return [window.innerWidth, window.innerHeight];").await?;
        let dim = |i: usize| v[i].as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| anyhow!("viewport {v}"));
        Ok((dim(0)?, dim(1)?))
    }

    /// Switches to a phone's viewport, 390×844.
    ///
    /// # Errors
    /// See [`Browser::viewport`].
    pub async fn phone_width(&self) -> Result<()> {
        self.viewport(PHONE.0, PHONE.1).await
    }

    /// Back to the desktop viewport, 1280×900.
    ///
    /// # Errors
    /// See [`Browser::viewport`].
    pub async fn desktop_width(&self) -> Result<()> {
        self.viewport(DESKTOP.0, DESKTOP.1).await
    }

    /// Saves a screenshot and the page's HTML as `<artifacts>/<name>.png` and `.html`.
    ///
    /// # Errors
    /// The browser could not take them, or they could not be written.
    pub async fn save_artifacts(&self, name: &str) -> Result<Vec<String>> {
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let mut saved = Vec::new();
        let png = dir.join(format!("{name}.png"));
        let shot = self.client.screenshot().await.context("take a screenshot")?;
        std::fs::write(&png, shot).with_context(|| format!("write {}", png.display()))?;
        saved.push(png.display().to_string());
        let html = dir.join(format!("{name}.html"));
        let source = self.client.source().await.context("read the page's HTML")?;
        std::fs::write(&html, source).with_context(|| format!("write {}", html.display()))?;
        saved.push(html.display().to_string());
        Ok(saved)
    }
}
