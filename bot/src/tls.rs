//! The bot's TLS: rustls with the ring provider (no OpenSSL, so the binary links statically), roots from the
//! system's certificate store (`/etc/ssl/certs/ca-certificates.crt` in the image).

use std::sync::Once;

/// Installs ring as the process's rustls provider (once). The WebSocket client and every HTTP client use it.
pub fn install_provider() {
    static PROVIDER: Once = Once::new();
    #[expect(
        deprecated,
        reason = "ring's provider lacks only post-quantum key exchange; aws-lc-rs would add a C build of its own"
    )]
    PROVIDER.call_once(|| {
        // Err means a provider is already installed (by an embedding program), which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// An HTTP client builder on rustls, with the provider installed.
pub fn http_client() -> reqwest::ClientBuilder {
    install_provider();
    reqwest::Client::builder().tls_backend_rustls()
}
