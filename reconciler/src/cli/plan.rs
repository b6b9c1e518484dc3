//! `reconciler plan`: observe, diff and show the plan without changing anything.

use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use reconciler_core::observed::ObservedState;
use reconciler_core::plan::{PlanOptions, plan};
use reconciler_core::render;

use super::apply::Scope;
use crate::converge::connect_app;
use crate::execute::state::StateDir;
use crate::exit::Exit;
use crate::load::Loaded;
use crate::observe::digitalocean::observe_infra;
use crate::observe::observe_app;
use crate::preflight::{self, Check};

/// Arguments of `plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifest.
    #[command(flatten)]
    pub manifest: super::ManifestArg,
    /// Plan against an observation saved as JSON (an `ObservedState`) instead of observing the live systems.
    #[arg(long, value_name = "FILE")]
    pub observed: Option<PathBuf>,
    /// Print the plan as JSON (format documented in docs/plan-json.md).
    #[arg(long)]
    pub json: bool,
    /// Allow changes that destroy the data on this volume (repeatable).
    #[arg(long, value_name = "VOLUME")]
    pub allow_data_loss: Vec<String>,
    /// Images of the app's repository older than the running one that are kept for a fast rollback (as `apply`).
    #[arg(long, default_value_t = 3)]
    pub keep_images: usize,
    /// What to observe when no `--observed` file is given.
    #[arg(long, value_enum, default_value_t = super::apply::Scope::All)]
    pub scope: super::apply::Scope,
    /// Directory holding the quarantine of failed revisions.
    #[arg(long, env = "RECONCILER_STATE_DIR", default_value = crate::execute::state::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Manifest commit recorded on the container.
    #[arg(long, env = "RECONCILER_COMMIT")]
    pub commit: Option<String>,
    /// How to reach DigitalOcean.
    #[command(flatten)]
    pub digitalocean: super::apply::DigitalOceanArgs,
    /// Where the app runs.
    #[command(flatten)]
    pub host: super::apply::HostArgs,
}

/// Observes the scopes `args` name, DigitalOcean and the app's host read together; with both scopes, also runs the
/// pre-flight checks (the token's alone with the infra scope).
async fn observe(args: &Args, loaded: &Loaded) -> anyhow::Result<(ObservedState, Vec<Check>)> {
    let preflight = args.scope == Scope::All;
    let infra = async {
        if !args.scope.includes_infra() {
            return anyhow::Ok((None, Vec::new()));
        }
        let client = args.digitalocean.client()?;
        let (observed, checks) = tokio::join!(observe_infra(&client, &loaded.manifest), async {
            if preflight {
                preflight::digitalocean(&client, &loaded.manifest).await
            } else {
                vec![preflight::token(&client).await]
            }
        });
        Ok((Some(observed), checks))
    };
    let app = async {
        if !args.scope.includes_app() {
            return anyhow::Ok((None, Vec::new()));
        }
        let ssh = args.host.target(loaded, &args.digitalocean).await?;
        let (engine, host) = connect_app(ssh.as_ref().map(|r| &r.ssh)).await?;
        let state = StateDir::new(&args.state_dir);
        let observed = observe_app(&engine, &host, &state, &loaded.manifest.app).await?;
        let checks = if preflight {
            preflight::host(&host, &loaded.manifest).await
        } else {
            Vec::new()
        };
        Ok((Some(observed), checks))
    };
    let ((infra, mut checks), (app, host_checks)) = tokio::try_join!(infra, app)?;
    checks.extend(host_checks);
    let observed = ObservedState {
        observed_at: Utc::now(),
        infra,
        app,
    };
    Ok((observed, checks))
}

/// Plans and prints; exit 0 when everything was observed and nothing changes, 6 when a part could not be observed
/// (whatever the rest would change), 2 when there are changes.
pub async fn run(args: &Args, color: bool) -> anyhow::Result<Exit> {
    let loaded = crate::load::manifest(&args.manifest.file)?;
    let (observed, checks) = match &args.observed {
        Some(path) => {
            let text = fs_err::read_to_string(path)?;
            let observed = serde_json::from_str::<ObservedState>(&text)
                .with_context(|| format!("{}: not an observed-state document", path.display()))?;
            (observed, Vec::new())
        }
        None => observe(args, &loaded).await?,
    };
    if !checks.is_empty() {
        let text: String = checks.iter().map(|c| format!("{c}\n")).collect();
        if args.json {
            eprint!("Pre-flight checks:\n{text}");
        } else {
            print!("Pre-flight checks:\n{text}\n");
        }
    }
    let options = PlanOptions {
        allow_data_loss: args.allow_data_loss.clone(),
        keep_images: Some(args.keep_images),
    };
    let plan = plan(&loaded.desired(args.commit.as_deref()), &observed, &options);
    if args.json {
        println!("{}", render::json(&plan));
    } else {
        print!("{}", render::human(&plan, color));
    }
    Ok(if !plan.unknown.is_empty() {
        Exit::Incomplete
    } else if plan.is_empty() {
        Exit::Ok
    } else {
        Exit::Changes
    })
}
