//! Rendering the cloud-init user_data template named by `infra.droplet.user_data`.

use super::DesiredState;

/// A `{{name}}` in the template that the manifest does not provide.
#[derive(Debug, thiserror::Error)]
#[error("user_data template: unknown placeholder {{{{{0}}}}} (known: {1})")]
pub struct UnknownPlaceholder(String, String);

/// Replaces the `{{placeholders}}` of a user_data template with values from the manifest.
///
/// Known placeholders: `deployment`, `volume_name`, `filesystem`, `mount_path`, `volume_owner`, `volume_mode`,
/// `data_dir`, `app_user`, `env_file`, `container_name`, `image_repository`.
pub fn render_user_data(template: &str, d: &DesiredState) -> Result<String, UnknownPlaceholder> {
    let values = [
        ("deployment", d.name.clone()),
        ("volume_name", d.infra.volume.name.clone()),
        ("filesystem", d.infra.volume.filesystem.to_string()),
        ("mount_path", d.infra.volume.mount_path.clone()),
        ("volume_owner", d.infra.volume.owner.clone()),
        ("volume_mode", d.infra.volume.mode.clone()),
        ("data_dir", d.app.volume_mount.host_path.clone()),
        ("app_user", d.app.user.clone()),
        (
            "env_file",
            d.app
                .secrets
                .as_ref()
                .map(|s| s.env_file.clone())
                .unwrap_or_default(),
        ),
        ("container_name", d.app.container_name.clone()),
        ("image_repository", d.app.image.repository.clone()),
    ];
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let key = after[..end].trim();
        match values.iter().find(|(k, _)| *k == key) {
            Some((_, value)) => out.push_str(value),
            None => {
                let known: Vec<&str> = values.iter().map(|(k, _)| *k).collect();
                return Err(UnknownPlaceholder(key.to_owned(), known.join(", ")));
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}
