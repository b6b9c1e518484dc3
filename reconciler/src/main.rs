//! `reconciler`: GitOps deployment of the schwad bot to DigitalOcean. Thin: parse → settings → dispatch → exit code.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = reconciler::cli::Cli::parse();
    reconciler::cli::run(cli).await.into()
}
