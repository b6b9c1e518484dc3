//! Checks the schema cannot express: absolute paths, a mount under the volume, port ranges, secret names, and
//! rules across fields.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Component, Path};

use super::{DesiredState, FORMAT_VERSION, FirewallRule, Problem};

/// Registry regions DigitalOcean offers.
const REGISTRY_REGIONS: [&str; 5] = ["nyc3", "sfo3", "ams3", "sgp1", "fra1"];

/// Env names that end like this hold secrets and belong in `app.secrets`.
const SECRET_SUFFIXES: [&str; 6] = [
    "_SECRET",
    "_TOKEN",
    "_PASSWORD",
    "_KEY",
    "_PRIVATE_KEY",
    "_CREDENTIALS",
];

/// System trees the volume or the data directory may never be, nor lie under: the reconciler runs as root and
/// `chown`s and bind-mounts the data directory read-write.
const SYSTEM_TREES: [&str; 17] = [
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/snap",
    "/sys",
    "/usr",
    "/var/lib/docker",
    "/var/run",
];

/// Directories that hold others' data: the volume or data directory may lie under them, never be one.
const SHARED_ROOTS: [&str; 9] = [
    "/", "/home", "/media", "/mnt", "/opt", "/srv", "/tmp", "/var", "/var/lib",
];

/// Every cross-field problem of a schema-valid manifest.
pub(super) fn check(d: &DesiredState) -> Vec<Problem> {
    let mut p = Problems::default();
    if d.version != FORMAT_VERSION {
        p.add(
            "version",
            format!(
                "this reconciler reads manifest version {FORMAT_VERSION}, not {}",
                d.version
            ),
        );
    }
    let infra = &d.infra;
    let app = &d.app;

    p.host_dir("infra.volume.mount_path", &infra.volume.mount_path);
    p.owner("infra.volume.owner", &infra.volume.owner);
    p.host_dir("app.volume_mount.host_path", &app.volume_mount.host_path);
    p.absolute(
        "app.volume_mount.container_path",
        &app.volume_mount.container_path,
    );
    if !lies_under(&app.volume_mount.host_path, &infra.volume.mount_path) {
        p.add(
            "app.volume_mount.host_path",
            format!(
                "{} does not lie under the volume's mount path {}: the database would not be on the block storage",
                app.volume_mount.host_path, infra.volume.mount_path
            ),
        );
    }
    p.owner("app.user", &app.user);

    for (kind, rules) in [
        ("inbound", &infra.firewall.inbound),
        ("outbound", &infra.firewall.outbound),
    ] {
        for (i, rule) in rules.iter().enumerate() {
            p.rule(&format!("infra.firewall.{kind}[{i}]"), rule);
        }
    }
    if let Some(region) = &infra.registry.region
        && !REGISTRY_REGIONS.contains(&region.to_ascii_lowercase().as_str())
    {
        p.add(
            "infra.registry.region",
            format!("registries exist only in {}", REGISTRY_REGIONS.join(", ")),
        );
    }
    if infra.registry.region.is_none()
        && !REGISTRY_REGIONS.contains(&infra.region.to_ascii_lowercase().as_str())
    {
        p.add(
            "infra.registry.region",
            format!(
                "set it: the infra region {} has no container registry (choose one of {})",
                infra.region,
                REGISTRY_REGIONS.join(", ")
            ),
        );
    }

    let mut host_ports = BTreeSet::new();
    for (i, port) in app.ports.iter().enumerate() {
        if !host_ports.insert((port.host, port.protocol)) {
            p.add(
                &format!("app.ports[{i}].host"),
                format!("host port {} is published twice", port.host),
            );
        }
        if let Some(ip) = &port.host_ip
            && ip.parse::<IpAddr>().is_err()
        {
            p.add(
                &format!("app.ports[{i}].host_ip"),
                format!("{ip:?} is not an IP address"),
            );
        }
    }

    for name in app.env.keys() {
        if !is_env_name(name) {
            p.add(
                &format!("app.env.{name}"),
                "not a valid environment variable name".to_owned(),
            );
        }
        if SECRET_SUFFIXES
            .iter()
            .any(|s| name.to_ascii_uppercase().ends_with(s))
        {
            p.add(
                &format!("app.env.{name}"),
                "looks like a secret: list its name under app.secrets.names and keep its value in the env file".to_owned(),
            );
        }
    }
    if let Some(secrets) = &app.secrets {
        p.absolute("app.secrets.env_file", &secrets.env_file);
        let mut seen = BTreeSet::new();
        for (i, name) in secrets.names.iter().enumerate() {
            let path = format!("app.secrets.names[{i}]");
            if !is_env_name(name) {
                p.add(
                    &path,
                    format!("{name:?} is not a valid environment variable name"),
                );
            }
            if !seen.insert(name) {
                p.add(&path, format!("{name} is listed twice"));
            }
            if app.env.contains_key(name) {
                p.add(
                    &path,
                    format!("{name} is also a plain env variable in app.env"),
                );
            }
        }
    }

    let health = &app.health_check;
    match (&health.http, &health.command) {
        (Some(_), Some(_)) => p.add(
            "app.health_check",
            "give either http or command, not both".to_owned(),
        ),
        (None, None) => p.add(
            "app.health_check",
            "give http (a URL probed from the host) or command".to_owned(),
        ),
        (Some(url), None) if !(url.starts_with("http://") || url.starts_with("https://")) => {
            p.add(
                "app.health_check.http",
                format!("{url:?} is not an http:// or https:// URL"),
            );
        }
        (None, Some(cmd)) if cmd.is_empty() => {
            p.add("app.health_check.command", "is empty".to_owned())
        }
        _ => {}
    }
    if health.interval.get().is_zero() {
        p.add(
            "app.health_check.interval",
            "must be longer than zero".to_owned(),
        );
    }
    if health.timeout.get().is_zero() {
        p.add(
            "app.health_check.timeout",
            "must be longer than zero".to_owned(),
        );
    }
    for (i, cap) in app.hardening.cap_drop.iter().enumerate() {
        if !cap.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            p.add(
                &format!("app.hardening.cap_drop[{i}]"),
                format!("{cap:?} is not a capability name like ALL or NET_RAW"),
            );
        }
    }
    p.0
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: &str, message: String) {
        self.0.push(Problem {
            path: path.to_owned(),
            message,
        });
    }

    fn absolute(&mut self, path: &str, value: &str) {
        let p = Path::new(value);
        if !p.is_absolute() {
            self.add(path, format!("{value:?} must be an absolute path"));
        } else if p.components().any(|c| c == Component::ParentDir) {
            self.add(path, format!("{value:?} must not contain `..`"));
        }
    }

    /// An absolute path Docker can bind (no `:` or `,`, no control character, written in its plain form) that is
    /// no system directory.
    fn host_dir(&mut self, path: &str, value: &str) {
        let before = self.0.len();
        self.absolute(path, value);
        if let Some(c) = value
            .chars()
            .find(|c| matches!(c, ':' | ',' | '\\') || c.is_control())
        {
            self.add(
                path,
                format!("{value:?} holds {c:?}, which a Docker bind mount cannot take"),
            );
        }
        let plain = Path::new(value)
            .components()
            .collect::<std::path::PathBuf>();
        if value != "/" && plain.as_os_str() != value {
            self.add(
                path,
                format!(
                    "{value:?} is not in its plain form (write {:?})",
                    plain.display()
                ),
            );
        }
        if self.0.len() > before {
            return;
        }
        if let Some(tree) = SYSTEM_TREES.iter().find(|t| lies_under(value, t)) {
            self.add(
                path,
                format!("{value:?} lies in the system directory {tree}; refused"),
            );
        } else if SHARED_ROOTS.contains(&value) {
            self.add(
                path,
                format!(
                    "{value:?} is a shared system directory; use a directory of its own below it"
                ),
            );
        }
    }

    fn owner(&mut self, path: &str, value: &str) {
        let ok = value
            .split_once(':')
            .is_some_and(|(u, g)| u.parse::<u32>().is_ok() && g.parse::<u32>().is_ok());
        if !ok {
            self.add(
                path,
                format!("{value:?} is not `uid:gid` with numeric ids, e.g. 1001:1001"),
            );
        }
    }

    fn rule(&mut self, path: &str, rule: &FirewallRule) {
        if let Err(e) = parse_port_range(&rule.ports) {
            self.add(&format!("{path}.ports"), e);
        }
        for (i, address) in rule.addresses.iter().enumerate() {
            if !is_address(address) {
                self.add(
                    &format!("{path}.addresses[{i}]"),
                    format!("{address:?} is not an IP address or CIDR block"),
                );
            }
        }
    }
}

/// Parses `22`, `8000-9000` or `all` into an inclusive range (`all` is `1-65535`).
pub(crate) fn parse_port_range(ports: &str) -> Result<(u16, u16), String> {
    if ports == "all" || ports == "0" {
        return Ok((1, 65535));
    }
    let (low, high) = ports.split_once('-').unwrap_or((ports, ports));
    let parse = |s: &str| {
        s.parse::<u16>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| format!("{s:?} is not a port between 1 and 65535"))
    };
    let (low, high) = (parse(low)?, parse(high)?);
    if low > high {
        return Err(format!("range {ports} is reversed"));
    }
    Ok((low, high))
}

fn is_address(value: &str) -> bool {
    match value.split_once('/') {
        None => value.parse::<IpAddr>().is_ok(),
        Some((ip, prefix)) => match (ip.parse::<IpAddr>(), prefix.parse::<u8>()) {
            (Ok(IpAddr::V4(_)), Ok(bits)) => bits <= 32,
            (Ok(IpAddr::V6(_)), Ok(bits)) => bits <= 128,
            _ => false,
        },
    }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `path` is `base` or below it, comparing whole components.
fn lies_under(path: &str, base: &str) -> bool {
    Path::new(path).starts_with(Path::new(base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("all"), Ok((1, 65535)));
        assert_eq!(parse_port_range("22"), Ok((22, 22)));
        assert_eq!(parse_port_range("8000-9000"), Ok((8000, 9000)));
        assert!(parse_port_range("9000-8000").is_err());
        assert!(parse_port_range("70000").is_err());
    }

    #[test]
    fn mount_must_lie_under_whole_components() {
        assert!(lies_under("/mnt/data/bot", "/mnt/data"));
        assert!(!lies_under("/mnt/database", "/mnt/data"));
    }

    fn with_paths(mount: &str, host: &str) -> Vec<Problem> {
        let text = include_str!("../../../../manifests/desired.yaml")
            .replace("/mnt/schwad-data/bot", host)
            .replace(
                "mount_path: /mnt/schwad-data",
                &format!("mount_path: {mount:?}"),
            );
        let d: DesiredState = serde_yaml::from_str(&text).unwrap();
        check(&d)
    }

    /// Issue 16, case 1: the data directory never is or lies in a system directory, and holds nothing Docker
    /// cannot bind.
    #[test]
    fn system_directories_and_unbindable_paths_are_refused() {
        assert_eq!(with_paths("/mnt/schwad-data", "/mnt/schwad-data/bot"), []);
        for (mount, host) in [
            ("/", "/etc"),
            ("/", "/"),
            ("/etc", "/etc/schwad"),
            ("/var/lib", "/var/lib/docker/volumes"),
            ("/mnt", "/mnt"),
            ("/mnt/schwad-data", "/mnt/schwad-data/bot:rw"),
            ("/mnt/schwad-data", "/mnt/schwad-data/a,b"),
            ("/mnt/schwad-data", "/mnt/schwad-data//bot/"),
            ("/mnt/schwad-data", "/mnt/schwad-data/b\tot"),
        ] {
            let problems = with_paths(mount, host);
            assert!(
                problems
                    .iter()
                    .any(|p| p.path == "app.volume_mount.host_path"),
                "{mount} {host}: {problems:?}"
            );
        }
    }

    #[test]
    fn addresses() {
        assert!(is_address("0.0.0.0/0"));
        assert!(is_address("::/0"));
        assert!(is_address("203.0.113.7"));
        assert!(!is_address("10.0.0.0/33"));
        assert!(!is_address("example.com"));
    }
}
