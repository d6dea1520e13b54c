//! The native command-line interface: runs Casebook's studies headlessly.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

/// The CLI is native only; the wasm32 build of this binary just says so.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::process::ExitCode;

    use clap::{Parser, Subcommand};

    #[derive(Parser)]
    #[command(name = "casebook", version = casebook::VERSION, about = "Machine-learning system design you can run")]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// List the bundled case studies: id, title and estimated minutes.
        List,
    }

    pub fn main() -> ExitCode {
        let cli = Cli::parse();
        match cli.command {
            Command::List => match casebook::bundled_studies() {
                Ok(studies) => {
                    for study in studies {
                        println!("{study}");
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("casebook: {error}");
                    ExitCode::from(2)
                }
            },
        }
    }
}
