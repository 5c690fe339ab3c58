use std::process::ExitCode;

use clap::Parser;
use etl_cli::args::Cli;

fn main() -> ExitCode {
    etl_adapters::memory::bound_malloc_arenas();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    let cli = Cli::parse();
    // The demo prints its own report; its per-run log lines would only bury it.
    let level = match cli.command {
        etl_cli::args::Command::Demo(_) => "warn",
        _ => "info",
    };
    etl_adapters::telemetry::init(level);
    let result = etl_cli::commands::run(cli.command).await;
    etl_cli::bench::report_usage();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One clear line first, the cause chain after it.
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
