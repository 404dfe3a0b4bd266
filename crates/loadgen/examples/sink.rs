//! A fast stand-in server for measuring the load tool itself.
//!
//! `cargo run --release -p switchboard-loadgen --example sink -- [ADDR] [--store] [--graph URL]`
//!
//! Listens on ADDR (default 127.0.0.1:8090) on one thread, checks each webhook's
//! signature with SWITCHBOARD_APP_SECRET (default `test-app-secret`) and answers 200.
//! With `--store` it also keeps the messages and serves the API lists that
//! `webhooks --verify` and `sends` read (token `test-token`). With `--graph URL` (implies
//! `--store`) it accepts text replies and sends them on, one at a time, to that Graph
//! API (e.g. `mock-graph`), enough to try `sends` without the real server.
#![allow(clippy::unwrap_used)]

#[path = "../tests/support/fake_server.rs"]
mod fake_server;

fn main() {
    let mut addr = "127.0.0.1:8090".to_owned();
    let mut store = false;
    let mut graph = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--store" {
            store = true;
        } else if arg == "--graph" {
            graph = Some(args.next().expect("--graph needs a URL"));
            store = true;
        } else {
            addr = arg;
        }
    }
    let secret = std::env::var("SWITCHBOARD_APP_SECRET").unwrap_or_else(|_| "test-app-secret".to_owned());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut opts = fake_server::Options::new(&secret);
        opts.store = store;
        opts.graph_url = graph;
        let server = fake_server::start_on(&addr, opts).await.unwrap();
        eprintln!("sink listening on {} (store: {store})", server.url());
        std::future::pending::<()>().await;
    });
}
