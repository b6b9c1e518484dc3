//! Schwab's error bodies (Trader API, gateway, OAuth, Apigee fault) turned into one clear line.

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(untagged)]
enum Envelope {
    /// `{"message": "...", "errors": ["..."]}`
    Trader {
        message: String,
        #[serde(default)]
        errors: Vec<String>,
    },
    /// `{"errors": [{"id", "status", "title", "detail", "source"}]}`
    Gateway { errors: Vec<GatewayEntry> },
    /// `{"error": "...", "error_description": "..."}`
    OAuth {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    },
    /// `{"fault": {"faultstring": "..."}}`
    Fault { fault: Fault },
}

#[derive(Deserialize)]
struct GatewayEntry {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    source: Option<Value>,
}

#[derive(Deserialize)]
struct Fault {
    faultstring: String,
}

/// Longest part of an unrecognised body quoted in a message.
const QUOTED: usize = 200;

/// `"<status>: <what Schwab said>"` for any of Schwab's error shapes, or the start of the body.
pub fn describe(status: u16, body: &str) -> String {
    let said = match serde_json::from_str::<Envelope>(body) {
        Ok(Envelope::Trader { message, errors }) if errors.is_empty() => message,
        Ok(Envelope::Trader { message, errors }) => format!("{message} ({})", errors.join("; ")),
        Ok(Envelope::Gateway { errors }) => errors
            .iter()
            .map(|entry| {
                let mut line = [entry.title.as_deref(), entry.detail.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(": ");
                if let Some(source) = &entry.source {
                    line.push_str(&format!(" ({source})"));
                }
                line
            })
            .collect::<Vec<_>>()
            .join("; "),
        Ok(Envelope::OAuth {
            error,
            error_description,
        }) => match error_description {
            Some(description) => format!("{error}: {description}"),
            None => error,
        },
        Ok(Envelope::Fault { fault }) => fault.faultstring,
        Err(_) if body.trim().is_empty() => "empty body".to_owned(),
        Err(_) => body.chars().take(QUOTED).collect(),
    };
    format!("HTTP {status}: {said}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trader_errors_list_their_details() {
        let body = r#"{"message":"Not authorized to access this resource","errors":["Invalid bearer token"]}"#;
        assert_eq!(
            describe(401, body),
            "HTTP 401: Not authorized to access this resource (Invalid bearer token)"
        );
        assert_eq!(describe(400, r#"{"message":"Bad"}"#), "HTTP 400: Bad");
    }

    #[test]
    fn gateway_errors_with_string_or_number_status() {
        let body = r#"{"errors":[{"id":"x","status":"400","title":"Bad Request","detail":"Missing header","source":{"header":"Authorization"}}]}"#;
        assert_eq!(
            describe(400, body),
            r#"HTTP 400: Bad Request: Missing header ({"header":"Authorization"})"#
        );
        let body = r#"{"errors":[{"id":"x","status":401,"title":"Unauthorized","detail":"Client not authorized"}]}"#;
        assert_eq!(
            describe(401, body),
            "HTTP 401: Unauthorized: Client not authorized"
        );
    }

    #[test]
    fn oauth_fault_and_unknown_bodies() {
        assert_eq!(
            describe(
                400,
                r#"{"error":"invalid_client","error_description":"refresh token invalid"}"#
            ),
            "HTTP 400: invalid_client: refresh token invalid"
        );
        assert_eq!(
            describe(
                413,
                r#"{"fault":{"faultstring":"Body buffer overflow","detail":{}}}"#
            ),
            "HTTP 413: Body buffer overflow"
        );
        assert_eq!(describe(502, ""), "HTTP 502: empty body");
        assert_eq!(
            describe(502, "<html>bad gateway"),
            "HTTP 502: <html>bad gateway"
        );
    }
}
