//! The models against DigitalOcean's OpenAPI spec (the bundled subset in `sim/digitalocean/spec/`): every documented
//! example response of every operation the client calls decodes, and so does every variant the spec allows of it
//! (each optional property left out, each `nullable` one `null`), walked from the spec's schemas, not from the
//! models. The few properties the spec leaves optional but without which the client cannot act are listed, with
//! why, and must indeed be refused when missing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::collections::BTreeSet;

use digitalocean_api::models::{
    Account, Action, DockerCredentials, Droplet, Firewall, Registry, RepositoryTag, Snapshot,
    SshKey, Subscription, Volume,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

fn spec() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../sim/digitalocean/spec/digitalocean-v2.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Decodes the part of a response body the client reads.
type Decode = fn(&Value) -> Result<(), String>;

fn one<T: DeserializeOwned>(key: &'static str) -> impl Fn(&Value) -> Result<(), String> {
    move |body| {
        serde_json::from_value::<T>(body.get(key).cloned().unwrap_or(Value::Null))
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

macro_rules! under {
    ($t:ty, $key:literal) => {
        |body: &Value| one::<$t>($key)(body)
    };
}

/// An operation the client calls: the response it reads and how it decodes it.
struct Operation {
    method: &'static str,
    path: &'static str,
    status: &'static str,
    decode: Decode,
}

const fn op(
    method: &'static str,
    path: &'static str,
    status: &'static str,
    decode: Decode,
) -> Operation {
    Operation {
        method,
        path,
        status,
        decode,
    }
}

fn operations() -> Vec<Operation> {
    vec![
        op("get", "/v2/account", "200", under!(Account, "account")),
        op(
            "get",
            "/v2/account/keys",
            "200",
            under!(Vec<SshKey>, "ssh_keys"),
        ),
        op("post", "/v2/account/keys", "201", under!(SshKey, "ssh_key")),
        op(
            "get",
            "/v2/account/keys/{ssh_key_identifier}",
            "200",
            under!(SshKey, "ssh_key"),
        ),
        op(
            "get",
            "/v2/actions/{action_id}",
            "200",
            under!(Action, "action"),
        ),
        op(
            "get",
            "/v2/droplets",
            "200",
            under!(Vec<Droplet>, "droplets"),
        ),
        op("post", "/v2/droplets", "202", under!(Droplet, "droplet")),
        op(
            "get",
            "/v2/droplets/{droplet_id}",
            "200",
            under!(Droplet, "droplet"),
        ),
        op(
            "get",
            "/v2/droplets/{droplet_id}/actions",
            "200",
            under!(Vec<Action>, "actions"),
        ),
        op(
            "post",
            "/v2/droplets/{droplet_id}/actions",
            "201",
            under!(Action, "action"),
        ),
        op(
            "get",
            "/v2/firewalls",
            "200",
            under!(Vec<Firewall>, "firewalls"),
        ),
        op("post", "/v2/firewalls", "202", under!(Firewall, "firewall")),
        op(
            "get",
            "/v2/firewalls/{firewall_id}",
            "200",
            under!(Firewall, "firewall"),
        ),
        op(
            "put",
            "/v2/firewalls/{firewall_id}",
            "200",
            under!(Firewall, "firewall"),
        ),
        op("get", "/v2/registry", "200", under!(Registry, "registry")),
        op("post", "/v2/registry", "201", under!(Registry, "registry")),
        op("get", "/v2/registry/docker-credentials", "200", |body| {
            serde_json::from_value::<DockerCredentials>(body.clone())
                .map(drop)
                .map_err(|e| e.to_string())
        }),
        op(
            "get",
            "/v2/registry/subscription",
            "200",
            under!(Subscription, "subscription"),
        ),
        op(
            "post",
            "/v2/registry/subscription",
            "200",
            under!(Subscription, "subscription"),
        ),
        op(
            "get",
            "/v2/registry/{registry_name}/repositories/{repository_name}/tags",
            "200",
            under!(Vec<RepositoryTag>, "tags"),
        ),
        op(
            "get",
            "/v2/snapshots",
            "200",
            under!(Vec<Snapshot>, "snapshots"),
        ),
        op("get", "/v2/volumes", "200", under!(Vec<Volume>, "volumes")),
        op("post", "/v2/volumes", "201", under!(Volume, "volume")),
        op(
            "get",
            "/v2/volumes/{volume_id}",
            "200",
            under!(Volume, "volume"),
        ),
        op(
            "get",
            "/v2/volumes/{volume_id}/actions",
            "200",
            under!(Vec<Action>, "actions"),
        ),
        op(
            "post",
            "/v2/volumes/{volume_id}/actions",
            "202",
            under!(Action, "action"),
        ),
        op(
            "get",
            "/v2/volumes/{volume_id}/snapshots",
            "200",
            under!(Vec<Snapshot>, "snapshots"),
        ),
        op(
            "post",
            "/v2/volumes/{volume_id}/snapshots",
            "201",
            under!(Snapshot, "snapshot"),
        ),
    ]
}

/// Properties the spec leaves optional that the client needs, by object (`action.id` also stands for
/// `actions[].id`), and why.
const NEEDED: &[(&str, &str)] = &[
    ("action.id", "an action is polled by id"),
    ("action.status", "waiting for an action reads its status"),
    ("action.type", "a lost action is found again by its type"),
    (
        "action.started_at",
        "a lost action is found again by when it started",
    ),
    ("firewall.id", "a firewall is updated and deleted by id"),
    ("firewall.name", "the manifest names the firewall"),
    (
        "firewall.created_at",
        "a lost create is found by creation time",
    ),
    (
        "volume.id",
        "a volume is attached, resized and deleted by id",
    ),
    ("volume.name", "the manifest names the volume"),
    ("volume.region", "volume names are unique per region only"),
    (
        "volume.size_gigabytes",
        "the planner compares sizes (a missing size is no size)",
    ),
    ("registry.name", "the manifest names the registry"),
    ("ssh_key.id", "a key is deleted by id"),
    (
        "ssh_key.fingerprint",
        "droplets name their keys by fingerprint",
    ),
    ("tag.tag", "the pre-flight looks the image's tag up"),
    (
        "tag.manifest_digest",
        "the pre-flight compares the pinned digest",
    ),
    (
        "auths.registry.digitalocean.com.auth",
        "the credentials are what the call is for",
    ),
];

/// A variant's label by object: `actions[].id` → `action.id`.
fn by_object(label: &str) -> String {
    match label.split_once("s[].") {
        Some((object, rest)) if !object.contains('.') => format!("{object}.{rest}"),
        _ => label.to_owned(),
    }
}

/// A schema with its `allOf` parts merged: properties, required names, nullable.
#[derive(Default)]
struct Merged {
    properties: Map<String, Value>,
    required: BTreeSet<String>,
    nullable: bool,
    items: Option<Value>,
}

fn merge(schema: &Value, out: &mut Merged) {
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        merge(part, out);
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        out.properties
            .extend(properties.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    out.required.extend(
        schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned),
    );
    out.nullable |= schema.get("nullable") == Some(&Value::Bool(true));
    if let Some(items) = schema.get("items") {
        out.items = Some(items.clone());
    }
}

fn merged(schema: &Value) -> Merged {
    let mut out = Merged::default();
    merge(schema, &mut out);
    out
}

/// An example built from the schema's own `example`s (for responses documented without one).
fn synthesize(schema: &Value) -> Option<Value> {
    if let Some(example) = schema.get("example") {
        return Some(example.clone());
    }
    if let Some(first) = ["oneOf", "anyOf"].iter().find_map(|k| {
        schema
            .get(*k)
            .and_then(Value::as_array)
            .and_then(|a| a.first())
    }) {
        return synthesize(first);
    }
    let m = merged(schema);
    if let Some(items) = &m.items {
        return synthesize(items).map(|item| Value::Array(vec![item]));
    }
    if m.properties.is_empty() {
        return None;
    }
    let object: Map<String, Value> = m
        .properties
        .iter()
        .filter_map(|(k, v)| synthesize(v).map(|value| (k.clone(), value)))
        .collect();
    (!object.is_empty()).then_some(Value::Object(object))
}

/// One variant the spec allows: the property at `pointer` removed or set to `null`.
struct Variant {
    label: String,
    pointer: String,
    removed: bool,
}

/// Walks `value` along `schema`, collecting the variants the spec allows (first array item only).
fn variants(schema: &Value, value: &Value, pointer: &str, label: &str, out: &mut Vec<Variant>) {
    let m = merged(schema);
    match value {
        Value::Object(object) => {
            for (key, sub) in &m.properties {
                let Some(child) = object.get(key) else {
                    continue;
                };
                let label = if label.is_empty() {
                    key.clone()
                } else {
                    format!("{label}.{key}")
                };
                let pointer = format!("{pointer}/{key}");
                // The envelope's key is the response itself, not a property of an object.
                let envelope = pointer.matches('/').count() == 1;
                if !envelope && !m.required.contains(key) {
                    out.push(Variant {
                        label: label.clone(),
                        pointer: pointer.clone(),
                        removed: true,
                    });
                }
                if !envelope && merged(sub).nullable && !child.is_null() {
                    out.push(Variant {
                        label: label.clone(),
                        pointer: pointer.clone(),
                        removed: false,
                    });
                }
                variants(sub, child, &pointer, &label, out);
            }
        }
        Value::Array(items) => {
            if let (Some(schema), Some(first)) = (&m.items, items.first()) {
                variants(
                    schema,
                    first,
                    &format!("{pointer}/0"),
                    &format!("{label}[]"),
                    out,
                );
            }
        }
        _ => {}
    }
}

fn apply(body: &Value, variant: &Variant) -> Value {
    let mut body = body.clone();
    let (parent, key) = variant.pointer.rsplit_once('/').unwrap();
    let target = body.pointer_mut(parent).unwrap();
    match target {
        Value::Object(object) if variant.removed => {
            object.remove(key);
        }
        Value::Object(object) => {
            object.insert(key.to_owned(), Value::Null);
        }
        _ => unreachable!("{parent} is not an object"),
    }
    body
}

/// The documented examples of a response: its named examples, its `example`, and one built from its schema.
fn examples(response: &Value) -> Vec<(String, Value)> {
    let content = &response["content"]["application/json"];
    let mut out: Vec<(String, Value)> = content
        .get("examples")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, example)| (name.clone(), example["value"].clone()))
        .collect();
    if let Some(example) = content.get("example") {
        out.push(("example".into(), example.clone()));
    }
    if let Some(example) = synthesize(&content["schema"]) {
        out.push(("from the schema's examples".into(), example));
    }
    out
}

#[test]
fn every_documented_response_and_every_variant_the_spec_allows_decodes() {
    let spec = spec();
    let needed: BTreeSet<&str> = NEEDED.iter().map(|(path, _)| *path).collect();
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut refused_needed = BTreeSet::new();
    for operation in operations() {
        let name = format!(
            "{} {} {}",
            operation.method, operation.path, operation.status
        );
        let response =
            &spec["paths"][operation.path][operation.method]["responses"][operation.status];
        assert!(response.is_object(), "{name}: not in the spec");
        let schema = &response["content"]["application/json"]["schema"];
        let examples = examples(response);
        assert!(!examples.is_empty(), "{name}: no example to decode");
        for (example, body) in examples {
            // A multi-create example answers under another key than the client reads.
            if body.as_object().is_some_and(|b| b.contains_key("droplets"))
                && operation.path == "/v2/droplets"
                && operation.method == "post"
            {
                continue;
            }
            checked += 1;
            if let Err(e) = (operation.decode)(&body) {
                failures.push(format!("{name} [{example}]: {e}"));
                continue;
            }
            let mut all = Vec::new();
            variants(schema, &body, "", "", &mut all);
            for variant in all {
                checked += 1;
                let decoded = (operation.decode)(&apply(&body, &variant));
                let how = if variant.removed {
                    "without"
                } else {
                    "with null"
                };
                let label = by_object(&variant.label);
                match (decoded, variant.removed && needed.contains(label.as_str())) {
                    (Ok(()), false) => {}
                    (Err(_), true) => {
                        refused_needed.insert(label);
                    }
                    (Ok(()), true) => failures.push(format!(
                        "{name} [{example}] {how} {}: decodes, so it need not be listed as needed",
                        variant.label
                    )),
                    (Err(e), false) => {
                        failures.push(format!("{name} [{example}] {how} {}: {e}", variant.label))
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} decodes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let unused: Vec<&&str> = needed
        .iter()
        .filter(|p| !refused_needed.contains(**p))
        .collect();
    assert!(
        unused.is_empty(),
        "listed as needed but never exercised: {unused:?}"
    );
    assert!(
        checked > 300,
        "only {checked} decodes: the walk found too little"
    );
}

#[test]
fn the_bundled_spec_names_its_source_commit_and_license() {
    let info = &spec()["info"];
    assert_eq!(info["license"]["name"], "Apache 2.0");
    let source = &info["x-bundled-from"];
    assert_eq!(
        source["repository"],
        "https://github.com/digitalocean/openapi"
    );
    assert_eq!(source["commit"].as_str().map(str::len), Some(40));
}
