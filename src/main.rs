//! The `latchkey` binary: command line -> configuration -> the library.

use clap::Parser as _;
use latchkey::cli::{self, Cli, Command};
use latchkey::config::LogFormat;

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == LogFormat::Json || (format == LogFormat::Auto && !terminal) {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.with_ansi(terminal).init();
    }
}

fn main() {
    let cli = Cli::parse();
    let cfg = match cli::load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("latchkey: configuration error: {e}");
            std::process::exit(2);
        }
    };
    init_logging(cfg.log_format);
    // A panic (contained where it happens) is told once, through the log, never as Rust's
    // raw message on stderr.
    std::panic::set_hook(Box::new(|info| {
        tracing::error!(panic = %info, "a bug: a panic was contained");
    }));
    let result = match &cli.command {
        Command::Serve => cli::serve(cfg).map(|()| String::new()),
        Command::BenchBounds { seconds } => {
            latchkey::bounds::measure(&cfg, *seconds).map(|v| format!("{v}\n"))
        }
        command => cli::run(&cfg, command),
    };
    match result {
        Ok(out) => print!("{out}"),
        Err(e) => {
            eprintln!("latchkey: {e}");
            std::process::exit(1);
        }
    }
}
