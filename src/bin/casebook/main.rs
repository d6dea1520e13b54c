//! The native command-line interface: runs Casebook's studies headlessly.

#[cfg(not(target_arch = "wasm32"))]
mod drift;
#[cfg(not(target_arch = "wasm32"))]
mod scores;
#[cfg(not(target_arch = "wasm32"))]
mod studies;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

/// The CLI is native only; the wasm32 build of this binary does nothing.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::path::PathBuf;
    use std::process::ExitCode;

    use clap::{Parser, Subcommand};

    use crate::{drift, scores, studies};

    #[derive(Parser)]
    #[command(
        name = "casebook",
        version = casebook::VERSION,
        about = "Machine-learning system design you can run"
    )]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// List the bundled case studies: id, title and estimated minutes.
        List,
        /// Run a study's design and print its report.
        Run {
            /// A bundled study's id (see `list`) or the path to a study file.
            study: String,
            /// Set a knob: `--set model=gbdt`. Repeat for several knobs.
            #[arg(long = "set", value_name = "KNOB=VALUE")]
            set: Vec<String>,
            /// The world's seed.
            #[arg(long, default_value_t = casebook::DEFAULT_SEED)]
            seed: u64,
            /// Print the whole report as JSON instead of its metrics as text.
            #[arg(long)]
            json: bool,
            /// Compute on the GPU (Vulkan, Metal or DX12) where there is
            /// one; the report names the backend that ran.
            #[arg(long)]
            gpu: bool,
        },
        /// Check a study's claims: run each at every seed and print the
        /// measured change. Exits with 1 if a claim does not hold.
        Check {
            /// Bundled study ids or study files.
            #[arg(required = true)]
            studies: Vec<String>,
            /// Comma-separated seeds to check every claim at.
            #[arg(long, value_delimiter = ',', default_value = "1")]
            seeds: Vec<u64>,
            /// Check only the claim with this id.
            #[arg(long)]
            claim: Option<String>,
            /// Print the results as JSON lines.
            #[arg(long)]
            json: bool,
            /// Compute on the GPU (Vulkan, Metal or DX12) where there is one.
            #[arg(long)]
            gpu: bool,
        },
        /// Compare two samples feature by feature for drift: CSVs with a
        /// header row and one numeric column per feature.
        Drift {
            /// The reference sample (for example, the training data).
            #[arg(long)]
            reference: PathBuf,
            /// The current sample (for example, today's traffic).
            #[arg(long)]
            current: PathBuf,
            /// psi, ks, js, wasserstein or auto (a test on small samples,
            /// PSI on large ones).
            #[arg(long, default_value = "auto")]
            detector: String,
            /// Print JSON instead of aligned text.
            #[arg(long)]
            json: bool,
        },
        /// Evaluate your own scores: a CSV with a header naming `label` (0 or
        /// 1) and `score`, and optionally `query` (groups for ranking metrics).
        Metrics {
            /// The CSV file.
            #[arg(long)]
            input: PathBuf,
            /// Cut-off for precision@k, recall@k and NDCG@k.
            #[arg(long, default_value_t = 10)]
            k: usize,
            /// Scores at or above this are predicted positive.
            #[arg(long, default_value_t = 0.5)]
            threshold: f64,
            /// Print JSON instead of aligned text.
            #[arg(long)]
            json: bool,
        },
    }

    /// Exit code for input the user can fix.
    const BAD_INPUT: u8 = 2;
    /// Exit code of `check` when a claim does not hold.
    const CLAIM_FAILED: u8 = 1;

    pub fn main() -> ExitCode {
        let cli = Cli::parse();
        match cli.command {
            Command::List => match casebook::bundled_studies() {
                Ok(studies) => {
                    let lines: Vec<String> = studies.iter().map(|s| s.meta.to_string()).collect();
                    emit(&(lines.join("\n") + "\n"))
                }
                Err(error) => fail(&error.to_string()),
            },
            Command::Run {
                study,
                set,
                seed,
                json,
                gpu,
            } => match studies::run(&study, &set, seed, json, gpu) {
                Ok(text) => emit(&text),
                Err(message) => fail(&message),
            },
            Command::Check {
                studies: names,
                seeds,
                claim,
                json,
                gpu,
            } => match studies::check(&names, &seeds, claim.as_deref(), json, gpu) {
                Ok((text, all_hold)) => {
                    let code = emit(&text);
                    if all_hold {
                        code
                    } else {
                        ExitCode::from(CLAIM_FAILED)
                    }
                }
                Err(message) => fail(&message),
            },
            Command::Drift {
                reference,
                current,
                detector,
                json,
            } => {
                let Some(detector) = casebook::engine::drift::Detector::from_id(&detector)
                    .filter(|d| d.id() != "chi2")
                else {
                    return fail(&format!(
                        "--detector `{detector}` is not one of psi, ks, js, wasserstein, auto"
                    ));
                };
                let read = |path: &PathBuf| {
                    let name = path.display().to_string();
                    std::fs::read_to_string(path)
                        .map_err(|e| format!("{name}: {e}"))
                        .and_then(|text| drift::parse(&name, &text))
                };
                let report = read(&reference)
                    .and_then(|r| read(&current).map(|c| (r, c)))
                    .and_then(|(r, c)| drift::compare(&r, &c, detector));
                match report {
                    Ok(report) if json => emit(&format!("{report:#}\n")),
                    Ok(report) => emit(&drift::to_text(&report)),
                    Err(message) => fail(&message),
                }
            }
            Command::Metrics {
                input,
                k,
                threshold,
                json,
            } => {
                let name = input.display().to_string();
                let text = match std::fs::read_to_string(&input) {
                    Ok(text) => text,
                    Err(e) => return fail(&format!("{name}: {e}")),
                };
                if k == 0 {
                    return fail("--k must be at least 1");
                }
                match scores::parse(&name, &text) {
                    Ok(data) => {
                        let report = scores::evaluate(&data, k, threshold);
                        if json {
                            emit(&format!("{report:#}\n"))
                        } else {
                            emit(&scores::to_text(&report))
                        }
                    }
                    Err(message) => fail(&message),
                }
            }
        }
    }

    /// Writes to stdout. A closed pipe (`casebook ... | head`) is not an
    /// error worth a panic: the reader has what it wanted.
    fn emit(text: &str) -> ExitCode {
        use std::io::Write;
        match std::io::stdout().lock().write_all(text.as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => fail(&format!("cannot write the output: {e}")),
        }
    }

    fn fail(message: &str) -> ExitCode {
        eprintln!("casebook: {message}");
        ExitCode::from(BAD_INPUT)
    }
}
