//! The reconciler's HTTP clients: rustls with the ring provider (no OpenSSL, so the binary links statically
//! and runs on any droplet's libc), roots from the host's certificate store.

use std::sync::Once;

/// A `reqwest` client builder with the process's TLS provider installed.
pub fn client_builder() -> reqwest::ClientBuilder {
    static PROVIDER: Once = Once::new();
    #[expect(
        deprecated,
        reason = "ring's provider lacks only post-quantum key exchange; aws-lc-rs would add a C build of its own"
    )]
    PROVIDER.call_once(|| {
        // Err means a provider is already installed (by the embedding program), which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}
