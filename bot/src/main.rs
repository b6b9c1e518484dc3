//! `schwad`: parse the command line, set up logging, run the command.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Parser;
use schwad::config::{Cli, Command, DbArgs, DbCommand, LogFormat};
use schwad::ledger::{Decided, Decision, tools};
use schwad::{commands, healthcheck, service};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = init_logging(&cli.log_level, cli.log_format) {
        eprintln!("schwad: {error:#}");
        return ExitCode::FAILURE;
    }
    match execute(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run(args) => {
            let settings = args.settings()?;
            service::run(settings).await?;
        }
        Command::ProcessTx(args) => {
            let config = args.chain.ingest_config()?;
            let applied = commands::process_tx(&args.database.database_url, config, args.hash)
                .await
                .with_context(|| format!("processing transaction {}", args.hash))?;
            println!(
                "{}: {} new, {} already recorded, {} restored",
                args.hash, applied.inserted, applied.duplicates, applied.restored
            );
        }
        Command::Auth(args) => auth(args).await?,
        Command::Resolve(args) => resolve(args).await?,
        Command::Db(args) => database(args).await?,
        Command::Healthcheck(args) => {
            healthcheck::check(&args.url()?, args.timeout).await?;
        }
        Command::Positions(args) => {
            print!(
                "{}",
                commands::positions(&args.database.database_url, args.trades).await?
            );
        }
    }
    Ok(())
}

/// `schwad resolve`: a person's decision, refused when it no longer applies.
async fn resolve(args: schwad::config::ResolveArgs) -> anyhow::Result<()> {
    let decision = match args.order {
        Some(order) => Decision::Order(order),
        None => Decision::NotPlaced,
    };
    let execution = args.execution;
    match commands::resolve(&args.database.database_url, execution, decision).await? {
        Decided::Applied => match decision {
            Decision::Order(order) => println!(
                "execution {execution}: broker order {order} recorded as its order; the bot follows it"
            ),
            Decision::NotPlaced => println!(
                "execution {execution}: recorded as not placed; the bot orders its shares again"
            ),
        },
        Decided::NoSuchExecution => bail!("no hedge execution {execution}: nothing changed"),
        Decided::NotPending => bail!(
            "hedge execution {execution} is not pending (its order is known or it ended): nothing changed"
        ),
        Decided::OrderTaken => {
            bail!("that broker order is already another execution's: nothing changed")
        }
    }
    Ok(())
}

/// `schwad db`: results on stdout; a failed integrity check is an error.
async fn database(args: DbArgs) -> anyhow::Result<()> {
    let url = &args.database.database_url;
    match args.command {
        DbCommand::Check => {
            let problems = tools::check(url).await?;
            println!("{}", problems.join("\n"));
            anyhow::ensure!(problems == ["ok"], "the integrity check found problems");
        }
        DbCommand::Backup { destination } => {
            tools::backup(url, &destination).await?;
            println!("copied to {destination}");
        }
        DbCommand::Query { sql } => print!("{}", tools::query(url, &sql).await?),
    }
    Ok(())
}

/// `schwad auth`: URL out on stdout, redirect URL in on stdin.
async fn auth(args: schwad::config::AuthArgs) -> anyhow::Result<()> {
    let database_url = args.database.database_url;
    let (app, key) = args.app.resolve()?;
    if !commands::stored_tokens_readable(&database_url, &key).await? {
        tracing::warn!(
            "the stored tokens were sealed with another ENCRYPTION_KEY: they are replaced; the bot must use this key"
        );
    }
    let flow = commands::AuthFlow::start(app, key)?;
    println!(
        "Open this URL, log in and allow access:\n\n  {}\n\nThen paste the whole URL your browser was redirected to (the code expires in about 30 s):",
        flow.url()?
    );
    let redirect = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .context("reading the redirect URL")?
    .context("reading the redirect URL from stdin")?;
    let generation = flow.finish(&database_url, &redirect).await?;
    println!(
        "Logged in (login #{generation}): tokens stored encrypted; a running bot resumes on its own."
    );
    Ok(())
}

fn init_logging(level: &str, format: LogFormat) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(level).context("invalid LOG_LEVEL")?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    Ok(())
}
