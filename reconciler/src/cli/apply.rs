//! `reconciler apply`: observe, plan and converge the DigitalOcean resources, then the app scope on the Docker engine
//! (local, or a host's over SSH with `--host`), health-gated, with an automatic revert (exit 4) that quarantines the
//! failed revision.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::ValueEnum;
use digitalocean_api::{Client, ClientConfig};
use reconciler_core::plan::{Plan, PlanOptions};
use reconciler_core::render;

use crate::converge::{self, Ended, InfraContext, RemoteApp, Settings};
use crate::docker::{Engine, auth};
use crate::execute::Timeouts;
use crate::execute::droplet_host::DropletHost;
use crate::execute::progress::{Human, JsonLines, Progress};
use crate::execute::state::DEFAULT_STATE_DIR;
use crate::exit::Exit;
use crate::gitops::lock::{self, LockError};
use crate::host::AppHost;
use crate::load::{Loaded, SchemaMemo};
use crate::observe::digitalocean::observe_infra;
use crate::preflight::{self, Status};
use crate::ssh::SshTarget;

/// Which half of the manifest to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scope {
    /// The bot container on the droplet's Docker engine, its image and data directory.
    App,
    /// The DigitalOcean resources.
    Infra,
    /// Both.
    All,
}

impl Scope {
    /// Whether the DigitalOcean resources are in scope.
    pub fn includes_infra(self) -> bool {
        matches!(self, Self::Infra | Self::All)
    }

    /// Whether the container and its host are in scope.
    pub fn includes_app(self) -> bool {
        matches!(self, Self::App | Self::All)
    }
}

/// How to reach DigitalOcean: the token comes from `DIGITALOCEAN_ACCESS_TOKEN` and the base URL from
/// `DIGITALOCEAN_API_URL` (a simulator in tests and sandboxes).
#[derive(Debug, clap::Args)]
pub struct DigitalOceanArgs {
    /// Pause between polls of a DigitalOcean action (a droplet create, a volume attach).
    #[arg(long, env = "RECONCILER_DO_POLL_INTERVAL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub do_poll_interval: Duration,
    /// First pause before a failed DigitalOcean request is tried again (it doubles on each of the 6 attempts).
    #[arg(long, env = "RECONCILER_DO_RETRY_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub do_retry_interval: Duration,
}

impl DigitalOceanArgs {
    /// The API client these arguments and the environment name.
    pub fn client(&self) -> anyhow::Result<Client> {
        let mut config = ClientConfig::from_env().context("configuring the DigitalOcean client")?;
        config.poll.interval = self.do_poll_interval;
        config.retry.initial_interval = self.do_retry_interval;
        Ok(Client::new(config)?)
    }
}

/// Where the app runs: the local Docker engine, or a host's over SSH.
#[derive(Debug, clap::Args)]
pub struct HostArgs {
    /// Converge the Docker engine of this host over SSH instead of the local one: `user@address`, `droplet` for
    /// `root@` the manifest's droplet's public address (looked up through the API), or `local` for this machine (the
    /// default, which an infra plan that stops the app on the droplet requires to be named).
    #[arg(long, value_name = "USER@HOST")]
    pub host: Option<String>,
    /// SSH port of `--host`.
    #[arg(long, requires = "host")]
    pub ssh_port: Option<u16>,
    /// Private key to log in to `--host` with.
    #[arg(long, requires = "host", value_name = "FILE")]
    pub ssh_identity: Option<PathBuf>,
    /// known_hosts file holding `--host`'s key (default: the user's). Unknown keys are never accepted.
    #[arg(long, requires = "host", value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// `--host`'s public key (`ssh-ed25519 AAAA...`), pinned instead of a known_hosts file.
    #[arg(long, requires = "host", value_name = "KEY")]
    pub host_key: Option<String>,
    /// The reconciler state directory on `--host`, whose reconcile lease an apply takes.
    #[arg(long, requires = "host", value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub remote_state_dir: PathBuf,
}

impl HostArgs {
    /// The remote host, `None` for the local engine.
    pub async fn target(
        &self,
        loaded: &Loaded,
        digitalocean: &DigitalOceanArgs,
    ) -> anyhow::Result<Option<RemoteApp>> {
        let Some(host) = self.host.as_deref().filter(|h| *h != LOCAL_HOST) else {
            return Ok(None);
        };
        let destination = if host == "droplet" {
            let name = &loaded.manifest.infra.droplet.name;
            let droplets = digitalocean.client()?.list_droplets_by_name(name).await?;
            let address = droplets
                .iter()
                .find(|d| d.name.eq_ignore_ascii_case(name))
                .and_then(|d| d.public_ipv4())
                .with_context(|| format!("droplet {name} has no public IPv4 address"))?;
            format!("root@{address}")
        } else {
            host.to_owned()
        };
        Ok(Some(RemoteApp {
            ssh: SshTarget {
                destination,
                port: self.ssh_port,
                known_hosts: self.known_hosts.clone(),
                host_key: self.host_key.clone(),
                identity: self.ssh_identity.clone(),
            },
            state_dir: self.remote_state_dir.clone(),
        }))
    }
}

/// `--host local`: this machine is the droplet.
const LOCAL_HOST: &str = "local";

/// Output format of apply's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressFormat {
    /// Lines for people (a progress bar for pulls on a terminal).
    Human,
    /// One JSON event per line.
    Json,
}

/// Arguments of `apply`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifest.
    #[command(flatten)]
    pub manifest: super::ManifestArg,
    /// What to converge.
    #[arg(long, value_enum, default_value_t = Scope::All)]
    pub scope: Scope,
    /// Manifest commit recorded on the container.
    #[arg(long, env = "RECONCILER_COMMIT")]
    pub commit: Option<String>,
    /// Allow changes that destroy the data on this volume (repeatable); a fresh snapshot is taken first.
    #[arg(long, value_name = "VOLUME")]
    pub allow_data_loss: Vec<String>,
    /// How to converge.
    #[command(flatten)]
    pub converge: ConvergeArgs,
    /// How to reach DigitalOcean.
    #[command(flatten)]
    pub digitalocean: DigitalOceanArgs,
    /// Where the app runs.
    #[command(flatten)]
    pub host: HostArgs,
}

/// Options of every converge (`apply` and `reconcile`).
#[derive(Debug, clap::Args)]
pub struct ConvergeArgs {
    /// Directory of the lock, the journal, the last-good revision and the quarantine.
    #[arg(long, env = "RECONCILER_STATE_DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Progress output.
    #[arg(long, value_enum, default_value_t = ProgressFormat::Human)]
    pub progress: ProgressFormat,
    /// Timeout of a step (a stop adds its grace period, a health wait its deadline and window).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub step_timeout: Duration,
    /// Timeout of an image pull.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    pub pull_timeout: Duration,
    /// Images of the app's repository older than the running one that are kept for a fast rollback.
    #[arg(long, default_value_t = 3)]
    pub keep_images: usize,
    /// Log lines of a failed container to show.
    #[arg(long, default_value_t = 30)]
    pub log_lines: usize,
    /// Docker config file with registry credentials (default: `$DOCKER_CONFIG/config.json` or
    /// `~/.docker/config.json`).
    #[arg(long)]
    pub docker_config: Option<PathBuf>,
}

impl ConvergeArgs {
    /// The converge settings these arguments name.
    pub fn settings(&self, commit: Option<String>) -> Settings {
        Settings {
            state_dir: self.state_dir.clone(),
            commit,
            timeouts: Timeouts {
                step: self.step_timeout,
                pull: self.pull_timeout,
            },
            keep_images: self.keep_images,
            log_lines: self.log_lines,
            docker_config: self.docker_config.clone().or_else(auth::config_path),
        }
    }
}

/// The progress view for `format`.
pub fn progress(format: ProgressFormat) -> Box<dyn Progress> {
    match format {
        ProgressFormat::Json => Box::new(JsonLines),
        ProgressFormat::Human => Box::new(Human::new(std::io::stdout().is_terminal())),
    }
}

/// Converges the infra scope, then the app scope; exit 0 converged, 3 blocked, 4 reverted, 5 locked, 6 when part of
/// the infra could not be observed, 1 on error.
pub async fn run(args: &Args, color: bool) -> anyhow::Result<Exit> {
    let memo = SchemaMemo::in_dir(&args.converge.state_dir);
    let loaded = crate::load::manifest_with(&args.manifest.file, Some(&memo))?;
    let _lease = match lock::acquire(&args.converge.state_dir) {
        Ok(lease) => lease,
        Err(e @ (LockError::Held(_) | LockError::Suspended(_))) => {
            eprintln!("{e}");
            return Ok(Exit::Locked);
        }
        Err(e) => return Err(e.into()),
    };
    let progress = progress(args.converge.progress);
    let human = args.converge.progress == ProgressFormat::Human;
    let mut incomplete = false;
    let mut infra = None;
    if args.scope.includes_infra() {
        let client = args.digitalocean.client()?;
        let token = preflight::token(&client).await;
        if token.status == Status::Fail {
            eprintln!("Pre-flight check failed:\n{token}\nNothing was observed or changed.");
            return Ok(Exit::Incomplete);
        }
        let options = PlanOptions {
            allow_data_loss: args.allow_data_loss.clone(),
            ..PlanOptions::default()
        };
        let plan = converge::prepare_infra(&loaded, &client, &options).await;
        if human && !plan.steps.is_empty() && plan.blocked.is_empty() {
            print!("{}", render::human(&plan, color));
        }
        let droplet = droplet_host(args, &loaded, &plan).await?;
        let droplet = droplet
            .as_ref()
            .map(|(engine, host)| DropletHost { engine, host });
        let report = converge::infra(&loaded, &client, plan, droplet, progress.as_ref()).await?;
        for unknown in &report.plan.unknown {
            eprintln!("warning: {} not observed: {}", unknown.kind, unknown.reason);
        }
        incomplete = !report.plan.unknown.is_empty();
        match report.ended {
            Ended::Blocked => {
                eprint!("{}", render::human(&report.plan, false));
                return Ok(Exit::Blocked);
            }
            Ended::NoChanges if human && incomplete => {
                println!(
                    "No changes to what could be observed; not converged: {} not observed.",
                    report
                        .plan
                        .unknown_kinds()
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Ended::NoChanges if human => {
                println!("No changes: the DigitalOcean resources match the manifest.");
            }
            _ => {}
        }
        if args.scope.includes_app() {
            let observed = observe_infra(&client, &loaded.manifest).await;
            infra = Some(InfraContext { client, observed });
        }
    }
    let exit = if args.scope.includes_app() {
        converge_app(args, &loaded, infra, color, progress.as_ref()).await?
    } else {
        Exit::Ok
    };
    Ok(if exit == Exit::Ok && incomplete {
        Exit::Incomplete
    } else {
        exit
    })
}

/// The droplet's Docker engine and host, connected when the infra plan has steps to run there. A step that takes the
/// app down needs the host named (`--host`, or `--host local` when this machine is the droplet): stopping the bot on
/// whatever machine the reconciler happens to run on would be wrong, and detaching its volume while it runs worse.
async fn droplet_host(
    args: &Args,
    loaded: &Loaded,
    plan: &Plan,
) -> anyhow::Result<Option<(Engine, AppHost)>> {
    if !plan.blocked.is_empty() || !plan.steps.iter().any(|s| s.op.runs_on_droplet()) {
        return Ok(None);
    }
    if args.host.host.is_none() && plan.steps.iter().any(|s| s.op.interrupts_app()) {
        anyhow::bail!(
            "the plan stops the bot and unmounts volume {} on droplet {} before detaching it: name the droplet's host \
             with --host USER@ADDRESS or --host droplet (or --host local when this machine is the droplet); nothing \
             was changed",
            loaded.manifest.infra.volume.name,
            loaded.manifest.infra.droplet.name
        );
    }
    let target = args.host.target(loaded, &args.digitalocean).await?;
    Ok(Some(
        converge::connect_app(target.as_ref().map(|t| &t.ssh)).await?,
    ))
}

async fn converge_app(
    args: &Args,
    loaded: &Loaded,
    infra: Option<InfraContext>,
    color: bool,
    progress: &dyn Progress,
) -> anyhow::Result<Exit> {
    let settings = args.converge.settings(args.commit.clone());
    let human = args.converge.progress == ProgressFormat::Human;
    let ssh = args.host.target(loaded, &args.digitalocean).await?;
    let prepared = match converge::prepare_on(loaded, &settings, ssh.as_ref(), infra).await {
        Ok(prepared) => prepared,
        Err(e @ converge::ConvergeError::RemoteLocked(_)) => {
            eprintln!("{e}");
            return Ok(Exit::Locked);
        }
        Err(e) => return Err(e.into()),
    };
    if human && !prepared.plan.steps.is_empty() && prepared.plan.blocked.is_empty() {
        print!("{}", render::human(&prepared.plan, color));
    }
    let report = prepared.run(loaded, &settings, progress).await?;
    Ok(match report.ended {
        Ended::Blocked => {
            eprint!("{}", render::human(&report.plan, false));
            Exit::Blocked
        }
        Ended::NoChanges => {
            for note in &report.plan.notes {
                eprintln!("note: {note}");
            }
            if human {
                println!(
                    "No changes: {} matches the manifest.",
                    loaded.manifest.app.container_name
                );
            }
            Exit::Ok
        }
        Ended::Converged => Exit::Ok,
        Ended::Reverted(failure) => {
            eprint!("{}", super::failure_report(&failure));
            Exit::Reverted
        }
        Ended::Restored { running } => {
            for note in &report.plan.notes {
                eprintln!("note: {note}");
            }
            match running {
                Some(id) => eprintln!(
                    "Restored: the desired revision is quarantined; the last good container ({id:.12}) runs and passed its gate"
                ),
                None => eprintln!(
                    "NOTHING RUNS: the desired revision is quarantined and no earlier container passed its gate"
                ),
            }
            Exit::Reverted
        }
        Ended::Failed(e) => return Err(e.into()),
    })
}
