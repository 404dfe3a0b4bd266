//! `switchboard-loadgen`: the project's load and benchmark tool (DESIGN.md §8).
//!
//! Subcommands live in their own modules; `main` only parses the command line, builds
//! the runtime and turns the outcome into an exit code.
#![forbid(unsafe_code)]

mod console;
mod duration;
mod http;
mod mock_graph;
mod payload;
mod replies;
mod seed;
mod sends;
mod sse;
mod stats;
mod verify;
mod webhook_receiver;
mod webhooks;

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "switchboard-loadgen", version, about)]
struct Cli {
    /// Runtime worker threads. 1 (the default) keeps the tool on one core, leaving the
    /// rest of the machine to the server under test.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send signed Meta-style inbound-message webhooks and measure acknowledgements.
    Webhooks(webhooks::WebhooksArgs),
    /// Serve a fast mock of the Graph API's send endpoint, for benchmarks.
    MockGraph(mock_graph::MockGraphArgs),
    /// End-to-end send benchmark: open conversations, queue replies through the API,
    /// count what reaches a `mock-graph`.
    Sends(sends::SendsArgs),
    /// Live-update fan-out: open N event streams, post inbound messages, measure the time
    /// until each stream has each message.
    Sse(sse::SseArgs),
    /// Fill a migrated, empty database with an inbox to measure the console against
    /// (100,000 conversations and 1,000,000 messages by default); prints the agents' tokens.
    SeedConsole(seed::SeedArgs),
    /// The console's targets: page latency (inbox, filtered view, conversation) and
    /// webhook acknowledgement -> live update on N open streams.
    Console(console::ConsoleArgs),
    /// Receive Switchboard's outgoing webhooks fast: verify signatures, count deliveries
    /// and duplicates, measure latency from the change's recorded time.
    WebhookReceiver(webhook_receiver::WebhookReceiverArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let runtime = build_runtime(cli.threads)?;
    runtime.block_on(async move {
        match cli.command {
            Command::Webhooks(args) => {
                let json = args.json;
                let summary = webhooks::run(args).await?;
                let mut out = std::io::stdout().lock();
                if json {
                    serde_json::to_writer(&mut out, &summary)?;
                    writeln!(out)?;
                } else {
                    summary.print_human(&mut out)?;
                }
                Ok(exit_code(summary.exit_code()))
            }
            Command::Sse(args) => {
                let json = args.json;
                let summary = sse::run(args).await?;
                sse::print(&summary, json)?;
                Ok(exit_code(summary.exit_code()))
            }
            Command::Console(args) => {
                let json = args.json;
                let summary = console::run(args).await?;
                console::print(&summary, json)?;
                Ok(exit_code(summary.exit_code()))
            }
            Command::SeedConsole(args) => {
                let seeded = seed::run(args).await?;
                seeded.print(&mut std::io::stdout().lock())?;
                Ok(ExitCode::SUCCESS)
            }
            Command::WebhookReceiver(args) => {
                webhook_receiver::run(args).await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::MockGraph(args) => {
                mock_graph::run(args).await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Sends(args) => {
                let json = args.json;
                let summary = sends::run(args).await?;
                let mut out = std::io::stdout().lock();
                if json {
                    serde_json::to_writer(&mut out, &summary)?;
                    writeln!(out)?;
                } else {
                    summary.print_human(&mut out)?;
                }
                Ok(exit_code(summary.exit_code()))
            }
        }
    })
}

fn build_runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    let mut builder = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    builder.enable_all().build().context("cannot start the async runtime")
}

fn exit_code(code: i32) -> ExitCode {
    u8::try_from(code).map_or(ExitCode::FAILURE, ExitCode::from)
}
