//! TLS for the probe: rustls with the operating system's trust store (rustls-platform-verifier:
//! the system CA bundle on Linux, the Keychain on macOS, the certificate store on Windows) plus the
//! custom CA file, a verifier that records its verdict instead of aborting, and the certificate
//! details a person needs.
//!
//! Why the OS store and not a bundled list: a company CA installed system-wide must just work, as
//! it does in the browser and in other mail programs; the custom CA file is for the rest.
//!
//! Why record instead of abort: a failed check must still show what the server presented (the
//! names it is valid for, the issuer, the dates). Nothing is sent over a connection whose
//! certificate failed while checking is on: the probe stops right after the handshake, and a
//! handshake that ended with no verdict at all counts as failed ([`judge`]).

use super::failure::{Category, Failure};
use super::sanitize::clean;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_platform_verifier::Verifier as PlatformVerifier;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The verifier's verdict on the certificate, kept for after the handshake.
#[derive(Debug)]
pub(crate) struct RecordingVerifier {
    /// The OS trust store (plus the custom CAs), or why it could not be loaded: then every
    /// certificate fails with that reason, which still lets "checking off" connect.
    inner: Result<PlatformVerifier, rustls::Error>,
    /// For the handshake signature, which is checked whatever the store says.
    algorithms: WebPkiSupportedAlgorithms,
    verdict: Mutex<Option<Result<(), rustls::Error>>>,
}

impl RecordingVerifier {
    /// `None` when no certificate was checked (the handshake failed before, or, if it
    /// succeeded, something skipped the check: [`judge`] treats that as a failure).
    pub fn verdict(&self) -> Option<Result<(), rustls::Error>> {
        self.verdict.lock().map(|v| v.clone()).unwrap_or(None)
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = match &self.inner {
            Ok(v) => v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now).map(|_| ()),
            Err(e) => Err(rustls::Error::General(format!("{TRUST_STORE_MISSING}: {e}"))),
        };
        if let Ok(mut v) = self.verdict.lock() {
            *v = Some(verdict);
        }
        Ok(ServerCertVerified::assertion())
    }

    // The handshake signature is still checked for real: it proves the server holds the key of
    // the certificate it showed, whatever we think of the certificate.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Starts the recorded error when this machine's trust store can't be loaded.
const TRUST_STORE_MISSING: &str = "this machine's trusted certificate authorities can't be loaded";

/// What to make of the verifier's verdict once the handshake is done.
#[derive(Debug)]
pub(crate) enum Judgement {
    /// Checking is on and the certificate passed.
    Trusted,
    /// Checking is on and the certificate failed (or was never checked): stop here.
    Rejected(rustls::Error),
    /// Checking is off; what the check would have said, if it ran.
    Unchecked(Option<rustls::Error>),
}

/// The decision after a completed handshake. With checking on, only a recorded pass is trusted:
/// a handshake that finished without any verdict (session resumption, a config shared with
/// another verifier, a bug) is a failure, never a silent pass.
pub(crate) fn judge(verdict: Option<Result<(), rustls::Error>>, verify: bool) -> Judgement {
    match (verdict, verify) {
        (Some(Ok(())), true) => Judgement::Trusted,
        (Some(Err(e)), true) => Judgement::Rejected(e),
        (None, true) => Judgement::Rejected(rustls::Error::General(NO_VERDICT.into())),
        (Some(Ok(())), false) => Judgement::Unchecked(None),
        (Some(Err(e)), false) => Judgement::Unchecked(Some(e)),
        (None, false) => Judgement::Unchecked(Some(rustls::Error::General(NO_VERDICT.into()))),
    }
}

const NO_VERDICT: &str = "the TLS handshake finished without the server's certificate being checked";

/// Everything needed to start TLS with one server.
pub(crate) struct TlsSetup {
    pub connector: tokio_rustls::TlsConnector,
    pub verifier: Arc<RecordingVerifier>,
    pub server_name: ServerName<'static>,
    /// How many certificates the custom CA file added.
    pub custom_cas: usize,
}

/// Builds the client configuration for `host` (already in ASCII form): the OS trust store, plus
/// the certificates of `ca_file`.
pub(crate) fn setup(host: &str, ca_file: Option<&Path>) -> Result<TlsSetup, Failure> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut extra = Vec::new();
    if let Some(path) = ca_file {
        let unreadable = |why: String| {
            Failure::new(
                Category::CaFileUnreadable,
                format!("The custom CA file {} can't be used: {why}.", path.display()),
                "Choose a PEM file holding the CA certificate(s) (-----BEGIN CERTIFICATE-----), or clear the setting.",
            )
        };
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| unreadable(e.to_string()))?;
        // Each one is tried as a trust anchor here, so a bad one is blamed on the file, not on
        // the system store.
        let mut check = RootCertStore::empty();
        for cert in certs {
            let cert = cert.map_err(|e| unreadable(e.to_string()))?;
            check.add(cert.clone()).map_err(|e| unreadable(e.to_string()))?;
            extra.push(cert);
        }
        if extra.is_empty() {
            return Err(unreadable("it holds no certificate".into()));
        }
    }
    let custom_cas = extra.len();
    let inner = PlatformVerifier::new_with_extra_roots(extra, provider.clone());
    let verifier = Arc::new(RecordingVerifier { inner, algorithms: provider.signature_verification_algorithms, verdict: Mutex::new(None) });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::new(Category::TlsHandshakeFailed, format!("TLS can't be set up: {e}."), "Report this as a bug."))?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    // A resumed session skips the certificate check: every probe must see (and judge) it.
    config.resumption = Resumption::disabled();
    let server_name = ServerName::try_from(host.to_string()).map_err(|_| {
        Failure::new(Category::InvalidSettings, format!("'{host}' can't be used as a TLS server name."), "Check the host setting.")
    })?;
    Ok(TlsSetup { connector: tokio_rustls::TlsConnector::from(Arc::new(config)), verifier, server_name, custom_cas })
}

/// What the server's certificate says.
#[derive(Debug, Clone)]
pub(crate) struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// DNS names and IP addresses it is valid for (the subject alternative names).
    pub names: Vec<String>,
    pub not_before: String,
    pub not_after: String,
    /// The end of its validity in ms since the Unix epoch, for the dashboard's "ends soon".
    pub not_after_ms: i64,
    pub fingerprint: String,
    pub self_signed: bool,
}

impl CertInfo {
    pub fn parse(der: &CertificateDer<'_>) -> Option<Self> {
        use x509_parser::extensions::GeneralName;
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
        let mut names = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for n in &san.value.general_names {
                match n {
                    GeneralName::DNSName(d) => names.push(clean(d).into_owned()),
                    GeneralName::IPAddress(b) => match b.len() {
                        4 => names.push(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).ok()?).to_string()),
                        16 => names.push(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).ok()?).to_string()),
                        _ => {}
                    },
                    _ => {}
                }
            }
        }
        let date = |t: &x509_parser::time::ASN1Time| t.to_rfc2822().unwrap_or_else(|_| t.to_string());
        let fingerprint = Sha256::digest(der.as_ref()).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":");
        Some(Self {
            // The names are the server's own text: cleaned here, where they are read.
            subject: clean(&cert.subject().to_string()).into_owned(),
            issuer: clean(&cert.issuer().to_string()).into_owned(),
            self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
            names,
            not_before: date(&cert.validity().not_before),
            not_after: date(&cert.validity().not_after),
            not_after_ms: cert.validity().not_after.timestamp().saturating_mul(1000),
            fingerprint,
        })
    }

    pub fn details(&self) -> Vec<(String, String)> {
        vec![
            ("certificate subject".into(), self.subject.clone()),
            ("valid for names".into(), if self.names.is_empty() { "(no subject alternative names)".into() } else { self.names.join(", ") }),
            ("issuer".into(), self.issuer.clone()),
            ("valid from".into(), self.not_before.clone()),
            ("valid until".into(), self.not_after.clone()),
            ("SHA-256 fingerprint".into(), self.fingerprint.clone()),
        ]
    }
}

/// The failure for a certificate that did not pass, with what the server presented.
pub(crate) fn certificate_failure(err: &rustls::Error, host: &str, cert: Option<&CertInfo>, custom_ca: bool) -> Failure {
    let off = "Only if you trust this network and server, turn off 'Check certificates' (not recommended).";
    let kind = match err {
        rustls::Error::InvalidCertificate(c) => Some(c),
        _ => None,
    };
    match kind {
        Some(CertificateError::UnknownIssuer) if cert.is_some_and(|c| c.self_signed) => Failure::new(
            Category::CertificateSelfSigned,
            format!("The server's certificate is self-signed ({}), so nothing vouches for it.", cert.map(|c| c.subject.as_str()).unwrap_or("")),
            format!("Ask the server's administrator for a certificate from a public CA, or save this certificate as a PEM file and choose it as 'Custom CA file'. {off}"),
        ),
        Some(CertificateError::UnknownIssuer) => Failure::new(
            Category::CertificateUntrusted,
            format!(
                "The server's certificate is issued by {}, which is not a trusted certificate authority{}.",
                cert.map(|c| c.issuer.as_str()).unwrap_or("an unknown issuer"),
                if custom_ca { " (nor in the custom CA file)" } else { "" }
            ),
            format!("If this is your organisation's own CA, install it in this machine's trusted certificates (as the browser uses), or save its certificate as a PEM file and choose it as 'Custom CA file' (relay.ca_file). {off}"),
        ),
        Some(CertificateError::Expired | CertificateError::ExpiredContext { .. } | CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. }) => {
            Failure::new(
                Category::CertificateExpired,
                format!(
                    "The server's certificate is outside its validity period ({} to {}).",
                    cert.map(|c| c.not_before.as_str()).unwrap_or("?"),
                    cert.map(|c| c.not_after.as_str()).unwrap_or("?")
                ),
                "The server's administrator must renew the certificate. If it is not yet valid, check this machine's clock.",
            )
        }
        Some(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }) => {
            let names = cert.map(|c| c.names.join(", ")).filter(|n| !n.is_empty()).unwrap_or_else(|| "no names".into());
            Failure::new(
                Category::CertificateWrongHost,
                format!("The server's certificate is for {names}, not for {host}."),
                format!("Use the host name the certificate is made for (one of: {names}) in the host setting — providers often have one mail host name for all customers."),
            )
        }
        None if matches!(err, rustls::Error::General(m) if m.starts_with(TRUST_STORE_MISSING)) => Failure::new(
            Category::CertificateUntrusted,
            format!("The server's certificate can't be checked: {err}."),
            format!(
                "Install the operating system's CA certificates (on Debian and Ubuntu: the ca-certificates package), or choose \
                 your server's CA as 'Custom CA file' (relay.ca_file). {off}"
            ),
        ),
        None if matches!(err, rustls::Error::General(m) if m == NO_VERDICT) => Failure::new(
            Category::CertificateInvalid,
            format!("The server's certificate was not checked: {err}, so the connection can't be trusted."),
            "Nothing was sent over this connection. Validate again; if it happens again, report it as a bug in SMTP Desk.",
        ),
        _ => Failure::new(
            Category::CertificateInvalid,
            format!("The server's certificate can't be accepted: {err}."),
            format!("Ask the server's administrator to fix the certificate. {off}"),
        ),
    }
}

/// The negotiated protocol version and cipher suite, for the step details.
pub(crate) fn negotiated(conn: &rustls::ClientConnection) -> (String, String) {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
        Some(v) => format!("{v:?}"),
        None => "unknown".into(),
    };
    let cipher = conn.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())).unwrap_or_else(|| "unknown".into());
    (version, cipher)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn untrusted() -> rustls::Error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
    }

    #[test]
    fn with_checking_on_only_a_recorded_pass_is_trusted() {
        assert!(matches!(judge(Some(Ok(())), true), Judgement::Trusted));
        assert!(matches!(judge(Some(Err(untrusted())), true), Judgement::Rejected(rustls::Error::InvalidCertificate(_))));
        // A handshake that finished without a verdict was never checked: a failure, never a pass.
        let Judgement::Rejected(e) = judge(None, true) else { panic!("no verdict must fail when checking is on") };
        let f = certificate_failure(&e, "mail.example", None, false);
        assert_eq!(f.category, Category::CertificateInvalid);
        assert!(f.message.contains("without the server's certificate being checked"), "{f:?}");
    }

    #[test]
    fn with_checking_off_the_verdict_is_only_reported() {
        assert!(matches!(judge(Some(Ok(())), false), Judgement::Unchecked(None)));
        assert!(matches!(judge(Some(Err(untrusted())), false), Judgement::Unchecked(Some(_))));
        assert!(matches!(judge(None, false), Judgement::Unchecked(Some(_))));
    }

    #[test]
    fn a_missing_system_store_is_explained() {
        let e = rustls::Error::General(format!("{TRUST_STORE_MISSING}: No CA certificates were loaded from the system"));
        let f = certificate_failure(&e, "mail.example", None, false);
        assert_eq!(f.category, Category::CertificateUntrusted);
        assert!(f.hint.contains("ca-certificates") && f.hint.contains("Custom CA file"), "{f:?}");
    }

    #[test]
    fn setup_loads_the_system_store() {
        let setup = setup("mail.example", None).unwrap();
        assert_eq!(setup.custom_cas, 0);
        assert!(setup.verifier.verdict().is_none());
    }
}
