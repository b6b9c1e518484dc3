//! `reconciler lock`: suspend and resume the periodic reconcile for maintenance.

use std::path::PathBuf;

use crate::exit::Exit;
use crate::gitops::lock;

/// Arguments of `lock`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    /// State directory holding the lock.
    #[arg(
        long,
        global = true,
        env = "RECONCILER_STATE_DIR",
        default_value = "/var/lib/schwad-reconciler"
    )]
    state_dir: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Suspend reconciles until `lock release` (they exit 5 at once, as if the lock were held).
    Hold {
        /// Why, shown by `status` and by every reconcile that stops.
        #[arg(short, long)]
        message: String,
    },
    /// Resume reconciles.
    Release,
}

/// Places or lifts the maintenance hold.
pub fn run(args: &Args) -> anyhow::Result<Exit> {
    match &args.action {
        Action::Hold { message } => {
            let hold = lock::place_hold(&args.state_dir, message)?;
            println!("reconciles suspended since {}: {}", hold.since, hold.reason);
            if let Some(holder) = lock::holder(&args.state_dir) {
                println!(
                    "a reconcile is running now (pid {}); it finishes, the next ones stop",
                    holder.pid
                );
            }
        }
        Action::Release => match lock::release_hold(&args.state_dir)? {
            Some(hold) => println!(
                "reconciles resumed (were suspended since {}: {})",
                hold.since, hold.reason
            ),
            None => println!("reconciles were not suspended"),
        },
    }
    Ok(Exit::Ok)
}
