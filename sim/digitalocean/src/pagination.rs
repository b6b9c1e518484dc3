//! `page`/`per_page` pagination with `links.pages` (absolute URLs) and `meta.total`.

use std::collections::HashMap;

use axum::http::Uri;
use serde_json::{Map, Value, json};
use url::Url;

use crate::error::{ApiError, ApiResult};

/// Default page size.
pub const DEFAULT_PER_PAGE: usize = 20;
/// Largest page size; larger requests are clamped.
pub const MAX_PER_PAGE: usize = 200;

/// The query parameters of a request.
pub(crate) fn query(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn number(params: &HashMap<String, String>, name: &str) -> ApiResult<Option<usize>> {
    params
        .get(name)
        .map(|v| {
            v.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("invalid value for {name}: {v}")))
        })
        .transpose()
}

/// Cuts `items` to the requested page and wraps them as `{key: [...], links, meta}`.
pub(crate) fn paginate(items: Vec<Value>, key: &str, uri: &Uri, base: &Url) -> ApiResult<Value> {
    let params = query(uri);
    let page = number(&params, "page")?.unwrap_or(1).max(1);
    let per_page = number(&params, "per_page")?
        .unwrap_or(DEFAULT_PER_PAGE)
        .clamp(1, MAX_PER_PAGE);
    let total = items.len();
    let last = total.div_ceil(per_page).max(1);
    let page_items: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();

    let link = |n: usize| page_url(base, uri, &params, n, per_page);
    let mut pages = Map::new();
    if page > 1 {
        pages.insert("first".into(), link(1).into());
        pages.insert("prev".into(), link(page.min(last + 1) - 1).into());
    }
    if page < last {
        pages.insert("next".into(), link(page + 1).into());
        pages.insert("last".into(), link(last).into());
    }
    let links = if pages.is_empty() {
        json!({})
    } else {
        json!({"pages": pages})
    };
    let mut body = Map::new();
    body.insert(key.to_owned(), Value::Array(page_items));
    body.insert("links".into(), links);
    body.insert("meta".into(), json!({"total": total}));
    Ok(Value::Object(body))
}

fn page_url(
    base: &Url,
    uri: &Uri,
    params: &HashMap<String, String>,
    page: usize,
    per_page: usize,
) -> String {
    let mut url = base.join(uri.path()).unwrap_or_else(|_| base.clone());
    {
        let mut pairs = url.query_pairs_mut();
        let mut kept: Vec<_> = params
            .iter()
            .filter(|(k, _)| *k != "page" && *k != "per_page")
            .collect();
        kept.sort();
        for (k, v) in kept {
            pairs.append_pair(k, v);
        }
        pairs.append_pair("page", &page.to_string());
        pairs.append_pair("per_page", &per_page.to_string());
    }
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: u64) -> Vec<Value> {
        (0..n).map(|i| json!(i)).collect()
    }

    fn run(n: u64, query: &str) -> Value {
        let base = Url::parse("http://127.0.0.1:9/").unwrap();
        let uri: Uri = format!("/v2/droplets?{query}").parse().unwrap();
        paginate(items(n), "droplets", &uri, &base).unwrap()
    }

    #[test]
    fn middle_page_links_every_way_and_keeps_filters() {
        let body = run(45, "tag_name=web&page=2&per_page=10");
        assert_eq!(
            body["droplets"],
            json!([10, 11, 12, 13, 14, 15, 16, 17, 18, 19])
        );
        assert_eq!(body["meta"]["total"], 45);
        let pages = &body["links"]["pages"];
        assert_eq!(
            pages["next"],
            "http://127.0.0.1:9/v2/droplets?tag_name=web&page=3&per_page=10"
        );
        assert_eq!(
            pages["last"],
            "http://127.0.0.1:9/v2/droplets?tag_name=web&page=5&per_page=10"
        );
        assert_eq!(
            pages["first"],
            "http://127.0.0.1:9/v2/droplets?tag_name=web&page=1&per_page=10"
        );
        assert_eq!(
            pages["prev"],
            "http://127.0.0.1:9/v2/droplets?tag_name=web&page=1&per_page=10"
        );
    }

    #[test]
    fn single_page_has_no_links_and_defaults_to_twenty() {
        assert_eq!(run(20, "")["links"], json!({}));
        let body = run(21, "");
        assert_eq!(body["droplets"].as_array().unwrap().len(), 20);
        assert!(
            body["links"]["pages"]["next"]
                .as_str()
                .unwrap()
                .ends_with("page=2&per_page=20")
        );
    }

    #[test]
    fn per_page_is_clamped_to_two_hundred() {
        let body = run(250, "per_page=500");
        assert_eq!(body["droplets"].as_array().unwrap().len(), 200);
    }

    #[test]
    fn garbage_page_is_bad_request() {
        let base = Url::parse("http://127.0.0.1:9/").unwrap();
        let uri: Uri = "/v2/droplets?page=x".parse().unwrap();
        assert_eq!(
            paginate(items(1), "droplets", &uri, &base).unwrap_err().id,
            "bad_request"
        );
    }
}
