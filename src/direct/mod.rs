//! Direct delivery's own parts: where a domain's mail goes (`mx`), the TLS its servers promise
//! (`mta_sts`), and DKIM keys and signatures (`dkim`). The outbox uses them to hand mail to each
//! recipient's servers (`outbox::direct`); `health` and the window use them to check DNS.

pub mod dkim;
pub mod mta_sts;
pub mod mx;
