//! The `tinyweb` binary: reads the arguments and environment, then serves or probes.

use std::process::ExitCode;

use tinyweb::cli::{self, Command};
use tinyweb::config::Config;
use tinyweb::server::{self, Drained};
use tinyweb::{healthcheck, shutdown};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("tinyweb: {message}");
            ExitCode::from(code)
        }
    }
}

/// Usage or configuration errors exit 2, failures at run time 1.
fn run() -> Result<(), (u8, String)> {
    let command = cli::parse(std::env::args_os().skip(1)).map_err(|e| (2, e))?;
    match command {
        Command::Help => println!("{}", cli::help()),
        Command::Version => println!("{}", cli::version()),
        Command::Healthcheck => {
            let config = Config::from_env().map_err(|e| (2, e.to_string()))?;
            healthcheck::probe(&config).map_err(|e| (1, e))?;
        }
        Command::Serve => {
            let config = Config::from_env().map_err(|e| (2, e.to_string()))?;
            init_logging();
            serve(&config).map_err(|e| (1, e))?;
        }
    }
    Ok(())
}

/// pretty_env_logger on stderr, filtered by `RUST_LOG`, `info` when unset or empty.
fn init_logging() {
    let filter = std::env::var("RUST_LOG").ok().filter(|f| !f.trim().is_empty());
    pretty_env_logger::formatted_timed_builder()
        .parse_filters(filter.as_deref().unwrap_or("info"))
        .init();
}

/// One thread is plenty for this service and keeps the binary and its memory small; scale out
/// with replicas.
fn serve(config: &Config) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let addr = config.listen_addr();
        let listener = server::bind(config).map_err(|e| {
            format!(
                "cannot listen on {addr} (HOST={}, PORT={}): {e}",
                config.host, config.port
            )
        })?;
        let shutdown = shutdown::on_signal().map_err(|e| format!("cannot install signal handlers: {e}"))?;
        let bound = listener
            .local_addr()
            .map_err(|e| format!("cannot read the bound address: {e}"))?;
        log::info!("listening on http://{bound}");

        match server::run(listener, config, shutdown).await {
            Drained::All => log::info!("stopped: every connection drained"),
            Drained::GraceExpired => log::warn!(
                "stopped: grace period of {:?} expired with requests in flight",
                config.shutdown_grace
            ),
        }
        Ok(())
    })
}
