//! Envelope addresses (MAIL FROM, RCPT TO) in the form a server can take: UTF-8 only to a server
//! that offers SMTPUTF8 (RFC 6531), else international domains in their ASCII (punycode) form.
//!
//! Why refuse a non-ASCII local part instead of sending it: without SMTPUTF8 the server may
//! reject it, mangle it, or deliver to the wrong mailbox; the local part has no ASCII form
//! (unlike the domain), so only the user can choose another address or server.

/// Why an address can't go to this server as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Error {
    /// The part before the `@` is not ASCII and the server does not offer SMTPUTF8.
    #[error("the part before the @ in {0} has non-ASCII characters, and the server does not offer SMTPUTF8")]
    NonAsciiLocalPart(String),
    /// The domain can't be converted to its ASCII form.
    #[error("the domain of {0} is not a valid international domain name")]
    BadDomain(String),
}

/// `address` as it goes on the wire; `smtputf8` is whether this message uses SMTPUTF8.
pub(crate) fn for_server(address: &str, smtputf8: bool) -> Result<String, Error> {
    if smtputf8 || address.is_ascii() {
        return Ok(address.to_string());
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(Error::NonAsciiLocalPart(address.to_string()));
    };
    if !local.is_ascii() {
        return Err(Error::NonAsciiLocalPart(address.to_string()));
    }
    let ascii = idna::domain_to_ascii(domain).map_err(|_| Error::BadDomain(address.to_string()))?;
    if ascii.is_empty() || !ascii.is_ascii() {
        return Err(Error::BadDomain(address.to_string()));
    }
    Ok(format!("{local}@{ascii}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_addresses_are_unchanged() {
        assert_eq!(for_server("a.b+c@example.com", false).unwrap(), "a.b+c@example.com");
        assert_eq!(for_server("a@[192.0.2.1]", false).unwrap(), "a@[192.0.2.1]");
    }

    #[test]
    fn international_domains_become_punycode_without_smtputf8() {
        assert_eq!(for_server("info@bücher.example", false).unwrap(), "info@xn--bcher-kva.example");
        assert_eq!(for_server("x@例え.テスト", false).unwrap(), "x@xn--r8jz45g.xn--zckzah");
    }

    #[test]
    fn non_ascii_local_parts_need_smtputf8() {
        let e = for_server("jörg@example.com", false).unwrap_err();
        assert_eq!(e, Error::NonAsciiLocalPart("jörg@example.com".into()));
        assert!(e.to_string().contains("SMTPUTF8"));
        assert_eq!(for_server("jörg@bücher.example", true).unwrap(), "jörg@bücher.example", "sent as UTF-8 with SMTPUTF8");
    }
}
