//! Registry credentials for a pull, read from the Docker config file (`$DOCKER_CONFIG/config.json` or
//! `~/.docker/config.json`), as `docker pull` would use them. Credential helpers (`credsStore`) are not run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use bollard::auth::DockerCredentials;
use serde::Deserialize;

/// Docker Hub's key in the config file.
const DOCKER_HUB: &str = "https://index.docker.io/v1/";

#[derive(Debug, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Debug, Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    identitytoken: Option<String>,
}

/// The registry host of an image reference (`docker.io` references map to Docker Hub's key).
pub fn registry_of(reference: &str) -> &str {
    match reference.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => DOCKER_HUB,
    }
}

/// The default location of the Docker config file.
pub fn config_path() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json")),
    }
}

/// Credentials for pulling `reference`, from the config file at `path`; `None` when it has none for that registry
/// (or does not exist: anonymous pulls are normal). A file that exists but cannot be parsed is an error.
pub fn credentials_for(
    path: &Path,
    reference: &str,
) -> Result<Option<DockerCredentials>, AuthError> {
    let text = match fs_err::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(AuthError::Read(e)),
    };
    let config: ConfigFile = serde_json::from_str(&text).map_err(|e| AuthError::Parse {
        path: path.to_owned(),
        source: e,
    })?;
    let registry = registry_of(reference);
    let entry = config.auths.iter().find(|(key, _)| {
        let key = key
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        key == registry.trim_start_matches("https://") || key.split('/').next() == Some(registry)
    });
    let Some((server, entry)) = entry else {
        return Ok(None);
    };
    let mut creds = DockerCredentials {
        serveraddress: Some(server.clone()),
        identitytoken: entry.identitytoken.clone(),
        ..Default::default()
    };
    if let Some(auth) = &entry.auth {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| AuthError::BadAuth(server.clone()))?;
        let (user, pass) = decoded
            .split_once(':')
            .ok_or_else(|| AuthError::BadAuth(server.clone()))?;
        creds.username = Some(user.to_owned());
        creds.password = Some(pass.to_owned());
    }
    Ok(Some(creds))
}

/// Why the Docker config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The file exists but cannot be read.
    #[error("reading the Docker config file")]
    Read(#[source] std::io::Error),
    /// The file is not valid JSON of the expected shape.
    #[error("{path}: not a Docker config file", path = path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// An `auth` entry is not base64 of `user:password` (its value is not shown).
    #[error("Docker config file: the auth entry for {0} is not base64 of user:password")]
    BadAuth(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_host_of_references() {
        assert_eq!(
            registry_of("registry.digitalocean.com/schwad/bot:1"),
            "registry.digitalocean.com"
        );
        assert_eq!(registry_of("localhost:5000/bot:1"), "localhost:5000");
        assert_eq!(registry_of("library/busybox:1"), DOCKER_HUB);
        assert_eq!(registry_of("busybox"), DOCKER_HUB);
    }

    #[test]
    fn reads_basic_auth_for_the_image_registry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("tok:tok");
        fs_err::write(
            &path,
            format!(r#"{{"auths":{{"registry.digitalocean.com":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
        let creds = credentials_for(&path, "registry.digitalocean.com/schwad/bot:1")
            .unwrap()
            .unwrap();
        assert_eq!(creds.username.as_deref(), Some("tok"));
        assert_eq!(creds.password.as_deref(), Some("tok"));
        assert!(credentials_for(&path, "ghcr.io/x/y:1").unwrap().is_none());
        assert!(
            credentials_for(&dir.path().join("missing.json"), "a/b")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn malformed_auth_is_an_error_without_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        fs_err::write(&path, r#"{"auths":{"r.example":{"auth":"!!secret!!"}}}"#).unwrap();
        let err = credentials_for(&path, "r.example/a:1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("r.example"));
        assert!(!err.contains("secret"));
    }
}
