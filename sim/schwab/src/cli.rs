//! `schwad-sim schwab ...`: command-line settings and the run loop.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

use crate::config::{Config, DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_CALLBACK_URL};

/// Command-line arguments of the Schwab simulator.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3002")]
    pub listen: SocketAddr,
    /// The app key (OAuth client_id).
    #[arg(long, default_value = DEFAULT_APP_KEY)]
    pub app_key: String,
    /// The app secret (OAuth client_secret).
    #[arg(long, env = "SCHWAB_SIM_APP_SECRET", default_value = DEFAULT_APP_SECRET, hide_env_values = true)]
    pub app_secret: String,
    /// The registered callback URL (redirect_uri must match it exactly).
    #[arg(long, default_value = DEFAULT_CALLBACK_URL)]
    pub callback: String,
    /// Approve logins without the consent page.
    #[arg(long)]
    pub auto_approve: bool,
    /// Start with the market closed (orders wait QUEUED).
    #[arg(long)]
    pub market_closed: bool,
    /// Time from acceptance until an order is WORKING.
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    pub activation_delay: Duration,
    /// Time from WORKING until the last fill.
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    pub fill_delay: Duration,
    /// Authorization code lifetime.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub code_ttl: Duration,
    /// Access token lifetime.
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    pub access_token_ttl: Duration,
    /// Refresh token lifetime, from the code exchange.
    #[arg(long, default_value = "7days", value_parser = humantime::parse_duration)]
    pub refresh_token_ttl: Duration,
    /// Execution prices of a symbol, one fill per price: `AAPL=190.10,190.20` (repeatable).
    #[arg(long = "price", value_parser = parse_prices)]
    pub prices: Vec<(String, Vec<f64>)>,
    /// Execution price of symbols without `--price`.
    #[arg(long, default_value_t = 100.0)]
    pub default_price: f64,
    /// Linked account numbers (repeatable).
    #[arg(long = "account", default_value = "12345678")]
    pub accounts: Vec<String>,
    /// API requests allowed per minute.
    #[arg(long, default_value_t = 120)]
    pub requests_per_minute: u32,
    /// Order placements and cancellations allowed per minute.
    #[arg(long, default_value_t = 120)]
    pub orders_per_minute: u32,
}

/// Shows the settings the arguments resolve to, with the app secret redacted.
impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field("listen", &self.listen)
            .field("app_key", &self.app_key)
            .field("app_secret", &"<redacted>")
            .field("callback", &self.callback)
            .field("auto_approve", &self.auto_approve)
            .field("market_closed", &self.market_closed)
            .field("fill_delay", &self.fill_delay)
            .finish_non_exhaustive()
    }
}

fn parse_prices(text: &str) -> Result<(String, Vec<f64>), String> {
    let (symbol, prices) = text
        .split_once('=')
        .ok_or("expected SYMBOL=PRICE[,PRICE...]")?;
    let prices = prices
        .split(',')
        .map(|price| {
            price
                .trim()
                .parse::<f64>()
                .map_err(|error| format!("bad price {price:?}: {error}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((symbol.trim().to_uppercase(), prices))
}

impl From<Args> for Config {
    fn from(args: Args) -> Self {
        Self {
            listen: args.listen,
            app_key: args.app_key,
            app_secret: args.app_secret,
            callback_url: args.callback,
            auto_approve: args.auto_approve,
            code_ttl: args.code_ttl,
            access_token_ttl: args.access_token_ttl,
            refresh_token_ttl: args.refresh_token_ttl,
            accounts: args.accounts,
            market_open: !args.market_closed,
            activation_delay: args.activation_delay,
            fill_delay: args.fill_delay,
            prices: args.prices.into_iter().collect::<BTreeMap<_, _>>(),
            default_price: args.default_price,
            requests_per_window: args.requests_per_minute,
            orders_per_window: args.orders_per_minute,
            ..Self::default()
        }
    }
}

/// Runs the simulator, printing one JSON line with its base URL, until SIGINT or SIGTERM.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let handle = crate::start(args.into())
        .await
        .context("starting the Schwab simulator")?;
    println!("{}", ready_line(&handle));
    shutdown_signal()
        .await
        .context("waiting for a shutdown signal")?;
    tracing::info!("shutting down");
    handle.stop().await.context("stopping the Schwab simulator")
}

/// The one JSON line announcing where the simulator listens (never the app secret).
fn ready_line(handle: &crate::Handle) -> serde_json::Value {
    serde_json::json!({
        "base_url": handle.base_url(),
        "app_key": handle.app_key(),
        "callback_url": handle.callback_url(),
        "accounts": handle.accounts(),
    })
}

async fn shutdown_signal() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted,
        _ = terminate.recv() => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[tokio::test]
    async fn ready_line_names_the_base_url_but_not_the_secret() {
        let handle = crate::start(Config::default()).await.unwrap();
        let line = ready_line(&handle).to_string();
        assert!(!line.contains('\n'));
        let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(ready["base_url"], handle.base_url());
        assert_eq!(
            ready["accounts"][0]["hashValue"],
            handle.accounts()[0].hash_value.as_str()
        );
        assert!(!line.contains(handle.app_secret()));
        handle.stop().await.unwrap();
    }

    #[test]
    fn command_line_becomes_config() {
        let argv = [
            "schwab",
            "--listen",
            "127.0.0.1:3002",
            "--app-key",
            "K",
            "--app-secret",
            "S",
            "--auto-approve",
            "--fill-delay",
            "250ms",
            "--market-closed",
            "--price",
            "AAPL=1,2",
            "--account",
            "111",
            "--account",
            "222",
        ];
        let config = Config::from(Cli::try_parse_from(argv).unwrap().args);
        assert_eq!(config.listen.port(), 3002);
        assert_eq!(
            (config.app_key.as_str(), config.app_secret.as_str()),
            ("K", "S")
        );
        assert!(config.auto_approve && !config.market_open);
        assert_eq!(config.fill_delay, Duration::from_millis(250));
        assert_eq!(config.access_token_ttl, Duration::from_secs(1800));
        assert_eq!(config.refresh_token_ttl, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(config.prices["AAPL"], vec![1.0, 2.0]);
        assert_eq!(config.accounts, vec!["111", "222"]);
        assert_eq!(config.callback_url, DEFAULT_CALLBACK_URL);
    }

    #[test]
    fn parses_price_lists() {
        assert_eq!(
            parse_prices("aapl=1.5, 2").unwrap(),
            ("AAPL".to_owned(), vec![1.5, 2.0])
        );
        assert!(parse_prices("AAPL").is_err());
        assert!(parse_prices("AAPL=x").is_err());
    }
}
