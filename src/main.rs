//! The `latchkey` binary: command line -> configuration -> the library.

use clap::Parser as _;
use latchkey::cli::{self, AdminCall, Cli, Command, ConfigCmd, KeysCmd, TokenCmd, UserCmd};
use latchkey::config::LogFormat;
use latchkey::service::admin::StateChange;

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
    let call = match &cli.command {
        Command::Serve => {
            if let Err(e) = cli::serve(cfg) {
                eprintln!("latchkey: {e}");
                std::process::exit(1);
            }
            return;
        }
        Command::BenchBounds { seconds } => {
            match latchkey::bounds::measure(&cfg, *seconds) {
                Ok(v) => println!("{v}"),
                Err(e) => {
                    eprintln!("latchkey: {e}");
                    std::process::exit(1);
                }
            }
            return;
        }
        Command::Backup { file, with_key } => {
            match cli::backup(&cfg, file, *with_key) {
                Ok(out) => print!("{out}"),
                Err(e) => {
                    eprintln!("latchkey: {e}");
                    std::process::exit(1);
                }
            }
            return;
        }
        Command::Config(ConfigCmd::Check) => {
            print!("{}", cli::config_check(&cfg));
            return;
        }
        Command::User(u) => match u {
            UserCmd::List { after, limit } => AdminCall::ListUsers(after.clone(), *limit),
            UserCmd::Show { key } => AdminCall::ShowUser(key.clone()),
            UserCmd::Disable { key } => AdminCall::Change(key.clone(), StateChange::Disable),
            UserCmd::Enable { key } => AdminCall::Change(key.clone(), StateChange::Enable),
            UserCmd::Block { key } => AdminCall::Change(key.clone(), StateChange::Block),
            UserCmd::Unblock { key } => AdminCall::Change(key.clone(), StateChange::Unblock),
            UserCmd::Delete { key } => AdminCall::Delete(key.clone()),
            UserCmd::ResetMfa { key } => AdminCall::ResetMfa(key.clone()),
            UserCmd::Import { file } => {
                match cli::import(&cfg, file) {
                    Ok(out) => print!("{out}"),
                    Err(e) => {
                        eprintln!("latchkey: {e}");
                        std::process::exit(1);
                    }
                }
                return;
            }
        },
        Command::Keys(KeysCmd::List) => AdminCall::Keys,
        Command::Keys(KeysCmd::Rotate) => AdminCall::Rotate,
        Command::Keys(KeysCmd::Revoke { kid }) => AdminCall::RevokeKey(kid.clone()),
        Command::Token(TokenCmd::Inspect { token }) => AdminCall::Inspect(token.clone()),
    };
    match cli::admin(&cfg, &call).and_then(|v| cli::format(&call, &v)) {
        Ok(out) => print!("{out}"),
        Err(e) => {
            eprintln!("latchkey: {e}");
            std::process::exit(1);
        }
    }
}
