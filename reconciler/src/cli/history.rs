//! `reconciler history`: the journal of past reconciles, verified.

use std::path::PathBuf;

use crate::exit::Exit;
use crate::gitops::journal::Journal;
use crate::gitops::state::State;

/// Arguments of `history`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// State directory holding the journal.
    #[arg(
        long,
        env = "RECONCILER_STATE_DIR",
        default_value = "/var/lib/schwad-reconciler"
    )]
    pub state_dir: PathBuf,
    /// Print the records as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// Show at most this many of the newest records.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub limit: usize,
}

/// Prints the newest records; exit 1 when the hash chain does not verify.
pub fn run(args: &Args) -> anyhow::Result<Exit> {
    let journal = Journal::new(
        &args.state_dir,
        super::JOURNAL_MAX_BYTES,
        super::JOURNAL_KEEP,
    );
    let records = journal.records()?;
    let shown = &records[records.len().saturating_sub(args.limit)..];
    for r in shown {
        if args.json {
            println!("{}", serde_json::to_string(r)?);
        } else {
            let e = &r.entry;
            println!(
                "{}  {:.12}  {:<9}  {}{}",
                e.time.format("%Y-%m-%d %H:%M:%S"),
                e.commit,
                serde_json::to_value(e.outcome)?
                    .as_str()
                    .unwrap_or_default(),
                e.plan_summary,
                e.revert_target
                    .as_ref()
                    .map(|t| format!("  (reverted to {t:.12})"))
                    .unwrap_or_default()
            );
            if let Some(message) = &e.message {
                println!("    {message}");
            }
        }
    }
    if records.is_empty() && !args.json {
        println!(
            "no reconcile has changed anything yet ({})",
            args.state_dir.display()
        );
    }
    let anchor = State::load(&args.state_dir)?.journal_head;
    match journal.verify(anchor.as_ref()) {
        Ok(_) => {
            if let (Some(head), false) = (journal.read_head()?, args.json) {
                println!(
                    "head: {} (note it elsewhere to detect a rewrite)",
                    head.last
                );
            }
            Ok(Exit::Ok)
        }
        Err(e) => {
            eprintln!("warning: {e}");
            Ok(Exit::Error)
        }
    }
}
