//! Counts requests per route (`"METHOD /path/{template}"`) so tests can assert on API usage.

use std::collections::BTreeMap;

/// Request counts keyed by route, e.g. `"GET /v2/droplets/{droplet_id}"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct RequestCounts(BTreeMap<String, u64>);

impl RequestCounts {
    /// Counts one request to `route`.
    pub(crate) fn record(&mut self, route: &str) {
        *self.0.entry(route.to_owned()).or_default() += 1;
    }

    /// Requests made to `route` (`"METHOD /template"`).
    pub fn get(&self, route: &str) -> u64 {
        self.0.get(route).copied().unwrap_or(0)
    }

    /// Requests whose method changes state (anything but GET, HEAD and OPTIONS).
    pub fn mutating(&self) -> u64 {
        self.0
            .iter()
            .filter(|(route, _)| {
                !["GET ", "HEAD ", "OPTIONS "]
                    .iter()
                    .any(|m| route.starts_with(m))
            })
            .map(|(_, count)| count)
            .sum()
    }

    /// All requests.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Every route with its count.
    pub fn routes(&self) -> &BTreeMap<String, u64> {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutating_excludes_reads() {
        let mut counts = RequestCounts::default();
        counts.record("GET /v2/droplets");
        counts.record("GET /v2/droplets");
        counts.record("POST /v2/droplets");
        counts.record("DELETE /v2/volumes/{volume_id}");
        assert_eq!(counts.get("GET /v2/droplets"), 2);
        assert_eq!(counts.mutating(), 2);
        assert_eq!(counts.total(), 4);
    }
}
