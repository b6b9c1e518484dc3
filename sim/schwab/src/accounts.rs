//! `/trader/v1/accounts` endpoints: account numbers, balances and positions derived from fills.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::errors::{ApiError, TraderError};
use crate::instrument;
use crate::orders::Order;
use crate::state::{AccountNumber, Sim};

/// `?fields=positions`.
#[derive(Debug, Deserialize)]
pub(crate) struct FieldsQuery {
    fields: Option<String>,
}

impl FieldsQuery {
    fn positions(&self) -> bool {
        self.fields
            .as_deref()
            .is_some_and(|fields| fields.split(',').any(|field| field.trim() == "positions"))
    }
}

/// `GET /trader/v1/accounts/accountNumbers`.
pub(crate) async fn account_numbers(State(sim): State<Arc<Sim>>) -> Json<Vec<AccountNumber>> {
    Json(sim.accounts.clone())
}

/// `GET /trader/v1/accounts[?fields=positions]`.
pub(crate) async fn list(
    State(sim): State<Arc<Sim>>,
    Query(query): Query<FieldsQuery>,
) -> Json<Value> {
    let world = sim.world_at(sim.now());
    let accounts = sim
        .accounts
        .iter()
        .map(|account| account_json(&sim, account, world.orders.orders(), query.positions()));
    Json(Value::Array(accounts.collect()))
}

/// `GET /trader/v1/accounts/{hash}[?fields=positions]`.
pub(crate) async fn get(
    State(sim): State<Arc<Sim>>,
    Path(hash): Path<String>,
    Query(query): Query<FieldsQuery>,
) -> Result<Json<Value>, ApiError> {
    let account = by_hash(&sim, &hash)?;
    let world = sim.world_at(sim.now());
    Ok(Json(account_json(
        &sim,
        account,
        world.orders.orders(),
        query.positions(),
    )))
}

/// The account behind `hash`, or 400 like Schwab answers an unknown hash.
pub(crate) fn by_hash<'a>(sim: &'a Sim, hash: &str) -> Result<&'a AccountNumber, ApiError> {
    sim.account(hash).ok_or_else(|| {
        TraderError::bad_request(
            "Invalid account number",
            format!("Account hash {hash} is not linked to this user"),
        )
        .into()
    })
}

/// Net shares and cost of one symbol.
#[derive(Debug, Default)]
struct Holding {
    shares: i64,
    cost: f64,
    last_price: f64,
}

fn account_json(
    sim: &Sim,
    account: &AccountNumber,
    orders: &[Order],
    with_positions: bool,
) -> Value {
    let mut holdings: BTreeMap<&str, Holding> = BTreeMap::new();
    let mut cash = sim.config.starting_cash;
    for order in orders
        .iter()
        .filter(|order| order.account_number == account.account_number)
    {
        let sign = order.request.instruction.sign();
        let holding = holdings.entry(order.request.symbol.as_str()).or_default();
        for execution in &order.executions {
            let shares = i64::try_from(execution.quantity).unwrap_or(i64::MAX);
            holding.shares += sign * shares;
            holding.cost += sign as f64 * execution.quantity as f64 * execution.price;
            holding.last_price = execution.price;
            cash -= sign as f64 * execution.quantity as f64 * execution.price;
        }
    }
    let positions: Vec<Value> = holdings
        .iter()
        .filter(|(_, holding)| holding.shares != 0)
        .map(|(symbol, holding)| {
            let shares = holding.shares as f64;
            let (long, short) = if shares > 0.0 {
                (shares, 0.0)
            } else {
                (0.0, -shares)
            };
            let average = holding.cost / shares;
            json!({
                "shortQuantity": short,
                "averagePrice": average,
                "currentDayProfitLoss": 0.0,
                "currentDayProfitLossPercentage": 0.0,
                "longQuantity": long,
                "settledLongQuantity": long,
                "settledShortQuantity": short,
                "instrument": instrument::equity(symbol),
                "marketValue": shares * holding.last_price,
                "maintenanceRequirement": (shares * holding.last_price).abs() * 0.25,
                "averageLongPrice": if long > 0.0 { average } else { 0.0 },
                "averageShortPrice": if short > 0.0 { average } else { 0.0 },
            })
        })
        .collect();
    let equity: f64 = cash
        + holdings
            .values()
            .map(|holding| holding.shares as f64 * holding.last_price)
            .sum::<f64>();
    let mut securities = json!({
        "type": "MARGIN",
        "accountNumber": account.account_number,
        "roundTrips": 0,
        "isDayTrader": false,
        "isClosingOnlyRestricted": false,
        "pfcbFlag": false,
        "initialBalances": { "cashBalance": sim.config.starting_cash, "accountValue": sim.config.starting_cash, "isInCall": false },
        "currentBalances": { "cashBalance": cash, "liquidationValue": equity, "buyingPower": cash.max(0.0) * 2.0, "availableFunds": cash },
        "projectedBalances": { "buyingPower": cash.max(0.0) * 2.0, "availableFunds": cash, "isInCall": false },
    });
    if with_positions {
        securities["positions"] = Value::Array(positions);
    }
    json!({
        "securitiesAccount": securities,
        "aggregatedBalance": { "currentLiquidationValue": equity, "liquidationValue": equity },
    })
}
