//! The `latchkey` binary: command line -> configuration -> the library.

use clap::Parser as _;
use latchkey::cli::{self, Cli, Command, ConfigCmd, KeysCmd, TokenCmd};

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cfg = match cli::load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("latchkey: configuration error: {e}");
            std::process::exit(2);
        }
    };
    let result = match &cli.command {
        Command::Serve => cli::serve(cfg).map(|()| String::new()),
        Command::Config(ConfigCmd::Check) => Ok(cli::config_check(&cfg)),
        Command::Keys(KeysCmd::List) => cli::keys_list(&cfg),
        Command::Keys(KeysCmd::Rotate) => cli::keys_rotate(&cfg),
        Command::Token(TokenCmd::Inspect { token }) => cli::token_inspect(&cfg, token),
    };
    match result {
        Ok(out) => print!("{out}"),
        Err(e) => {
            eprintln!("latchkey: {e}");
            std::process::exit(1);
        }
    }
}
