//! How the container under the app's name differs from the desired one: its spec label, secrets, image digest and
//! the runtime settings Docker reports.

use crate::identity::{ContainerSpec, env_value_fingerprint, labels};
use crate::manifest::Protocol;
use crate::observed::{ContainerRuntime, ContainerState, ObservedApp, published_port};
use crate::plan::FieldDiff;

/// How the running container differs from the desired one.
pub(super) struct Diff {
    pub(super) fields: Vec<FieldDiff>,
    pub(super) causes: Vec<String>,
    pub(super) image_changed: bool,
}

pub(super) fn compare(
    c: &ContainerState,
    spec: &ContainerSpec,
    hash: &str,
    secrets_fp: Option<&str>,
    o: &ObservedApp,
) -> Diff {
    let mut diff = Diff {
        fields: Vec::new(),
        causes: Vec::new(),
        image_changed: false,
    };
    let stored_hash = c.labels.get(labels::SPEC_HASH).map(String::as_str);
    if stored_hash != Some(hash) {
        let stored = c
            .labels
            .get(labels::SPEC)
            .and_then(|json| serde_json::from_str::<ContainerSpec>(json).ok());
        match stored {
            Some(stored) => {
                for (field, before, after) in spec_fields(&stored, spec) {
                    if field == "image" {
                        diff.image_changed = true;
                    }
                    diff.causes.push(format!("{field} changed"));
                    diff.fields.push(FieldDiff {
                        field,
                        before: Some(before),
                        after: Some(after),
                    });
                }
            }
            None => {
                diff.image_changed = true;
                diff.causes
                    .push("container spec changed (no readable spec label)".to_owned());
                diff.fields.push(FieldDiff {
                    field: "spec_hash".to_owned(),
                    before: stored_hash.map(str::to_owned),
                    after: Some(hash.to_owned()),
                });
            }
        }
    }
    if c.labels.get(labels::SECRETS).map(String::as_str) != secrets_fp {
        diff.causes.push("secrets env file changed".to_owned());
        diff.fields.push(FieldDiff {
            field: "secrets".to_owned(),
            before: Some("(sensitive)".to_owned()),
            after: Some("(sensitive, changed)".to_owned()),
        });
    }
    if let Some(image) = &o.image
        && image.id != c.image_id
        && !diff.image_changed
    {
        diff.image_changed = true;
        diff.causes.push(format!(
            "image digest changed: {} now points to {}",
            spec.image,
            short(&image.id)
        ));
        diff.fields.push(FieldDiff {
            field: "image_id".to_owned(),
            before: Some(short(&c.image_id)),
            after: Some(short(&image.id)),
        });
    }
    if let Some(runtime) = &c.runtime {
        for (field, before, after) in runtime_drift(runtime, spec) {
            diff.causes.push(format!(
                "drift: {field} is {before}, the manifest says {after} (changed outside the manifest)"
            ));
            diff.fields.push(FieldDiff {
                field: format!("runtime.{field}"),
                before: Some(before),
                after: Some(after),
            });
        }
    }
    diff
}

/// Where what the container runs with differs from what `spec` creates, as `(field, observed, desired)`. Variables
/// the image sets are not compared; a value shows only as changed, never itself.
fn runtime_drift(r: &ContainerRuntime, spec: &ContainerSpec) -> Vec<(String, String, String)> {
    let h = &spec.hardening;
    let mut cap_drop = h.cap_drop.clone();
    cap_drop.sort();
    let security_opt: Vec<String> = if h.no_new_privileges {
        vec!["no-new-privileges:true".to_owned()]
    } else {
        Vec::new()
    };
    let mounts = vec![format!(
        "{}:{}:rw",
        spec.mount_host_path, spec.mount_container_path
    )];
    let mut ports: Vec<String> = spec
        .ports
        .iter()
        .map(|p| {
            published_port(
                p.host_ip.as_deref(),
                &p.host.to_string(),
                &format!("{}/{}", p.container, protocol(p.protocol)),
            )
        })
        .collect();
    ports.sort();
    let log = vec![
        "driver=json-file".to_owned(),
        format!("max-file={}", spec.log_max_files),
        format!("max-size={}", spec.log_max_size),
    ];
    let list = |v: &[String]| format!("[{}]", v.join(", "));
    let mut out = Vec::new();
    let mut check = |field: &str, before: String, after: String| {
        if before != after {
            out.push((field.to_owned(), before, after));
        }
    };
    check("user", r.user.clone(), spec.user.clone());
    check(
        "read_only_root_fs",
        r.read_only_root_fs.to_string(),
        h.read_only_root_fs.to_string(),
    );
    check("cap_drop", list(&r.cap_drop), list(&cap_drop));
    check("cap_add", list(&r.cap_add), list(&[]));
    check("privileged", r.privileged.to_string(), false.to_string());
    check("security_opt", list(&r.security_opt), list(&security_opt));
    check("restart", r.restart.to_string(), spec.restart.to_string());
    check("mounts", list(&r.mounts), list(&mounts));
    check("ports", list(&r.ports), list(&ports));
    check("log", list(&r.log), list(&log));
    for (key, value) in &spec.env {
        match r.env.get(key) {
            None => check(
                &format!("env.{key}"),
                "(unset)".to_owned(),
                "(set)".to_owned(),
            ),
            Some(fp) if *fp != env_value_fingerprint(value) => {
                check(
                    &format!("env.{key}"),
                    "(other value)".to_owned(),
                    "(manifest value)".to_owned(),
                );
            }
            Some(_) => {}
        }
    }
    for key in &spec.secret_names {
        if !r.env.contains_key(key) {
            check(
                &format!("env.{key}"),
                "(unset)".to_owned(),
                "(sensitive)".to_owned(),
            );
        }
    }
    out
}

fn protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Icmp => "icmp",
    }
}

/// Field-level differences of two specs, as `(dotted field, before, after)` in display form.
fn spec_fields(before: &ContainerSpec, after: &ContainerSpec) -> Vec<(String, String, String)> {
    let (Ok(a), Ok(b)) = (serde_json::to_value(before), serde_json::to_value(after)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    flatten_diff("", &a, &b, &mut out);
    out
}

fn flatten_diff(
    prefix: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
    out: &mut Vec<(String, String, String)>,
) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten_diff(
                    &path,
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ if a != b => out.push((prefix.to_owned(), display(a), display(b))),
        _ => {}
    }
}

fn display(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "(none)".to_owned(),
        other => other.to_string(),
    }
}

/// The first 12 hex digits of an id or digest.
pub(super) fn short(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.chars().take(12).collect()
}
