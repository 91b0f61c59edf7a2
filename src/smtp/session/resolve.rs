//! Step 1: the host name to every A/AAAA address (or none to look up for an address literal).

use super::{Opener, Report, StepResult};
use crate::smtp::conn::{bounded, Error as Wire};
use crate::smtp::failure::{hints, Failure};
use crate::smtp::StepStatus;
use std::net::IpAddr;

impl Opener<'_> {
    pub(super) async fn resolve(&mut self) -> StepResult {
        let mut report = Report::default();
        if let Ok(ip) = self.host_ascii.parse::<IpAddr>() {
            self.addrs = vec![ip];
            report.detail("addresses", ip.to_string());
            return report.done(StepStatus::Ok, format!("{ip} is an address: no DNS lookup needed."));
        }
        let ascii = idna::domain_to_ascii(&self.host_ascii).map_err(|_| self.place().invalid_host_name())?;
        if ascii != self.host_ascii {
            report.detail("DNS form (IDNA)", ascii.clone());
        }
        self.host_ascii = ascii;
        let deadline = self.step_deadline();
        let resolver = crate::dns::resolver_from_env(self.timeout, hickory_resolver::config::LookupIpStrategy::Ipv4AndIpv6)
            .map_err(|e| report.fail(hints::dns_settings_unreadable(&e)))?;
        let lookup = bounded(self.cancel, deadline, resolver.lookup_ip(self.host_ascii.as_str())).await;
        let place = self.place();
        let ips = match lookup {
            Err(Wire::Cancelled) => return Err(report.fail(Failure::cancelled())),
            Err(_) => return Err(report.fail(place.dns_timeout())),
            Ok(Err(e)) => {
                return Err(report.fail(match crate::dns::Failure::of(&e) {
                    f if f.is_absent() => place.dns_not_found(),
                    crate::dns::Failure::Timeout => place.dns_timeout(),
                    _ => place.dns_lookup_failed(&e),
                }))
            }
            Ok(Ok(found)) => found.iter().collect::<Vec<_>>(),
        };
        if ips.is_empty() {
            return Err(report.fail(place.dns_not_found()));
        }
        let list = ips.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ");
        self.addrs = ips;
        report.detail("addresses", list.clone());
        report.done(StepStatus::Ok, format!("{} → {list}", self.host))
    }
}
