//! One module per outside system. Each owns everything about talking to its system: URLs, form fields, SDK
//! requests, its own error enum whose variants a caller can act on, the mapping of "not found", and which
//! failures are retried (through [`retry`], bounded by the calling resource's budget). Resources speak to
//! clients in typed calls and never build a request themselves.

pub mod aws;
pub mod azure;
pub mod controller;
pub mod helm;
pub mod kube;
pub mod retry;

/// Adds every certificate of a PEM bundle to a client's trust roots; the error says what is wrong with it.
pub(crate) fn with_ca_file(builder: reqwest::ClientBuilder, ca_file: &str) -> Result<reqwest::ClientBuilder, String> {
    let pem = std::fs::read(ca_file).map_err(|e| format!("{ca_file:?} cannot be read: {e}"))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{ca_file:?} is not a PEM certificate bundle: {e}"))?;
    if certificates.is_empty() {
        return Err(format!("{ca_file:?} holds no PEM certificate"));
    }
    Ok(certificates.into_iter().fold(builder, |b, c| b.add_root_certificate(c)))
}

/// A reqwest error's text with its causes and without the URL (which could carry query parameters).
pub(crate) fn error_text(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
