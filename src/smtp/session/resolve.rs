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
        let resolver = {
            use hickory_resolver::config::LookupIpStrategy;
            let mut builder =
                hickory_resolver::TokioResolver::builder_tokio().map_err(|e| report.fail(hints::dns_settings_unreadable(&e)))?;
            let opts = builder.options_mut();
            opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
            opts.timeout = self.timeout;
            opts.attempts = 1;
            builder.build()
        };
        let lookup = bounded(self.cancel, deadline, resolver.lookup_ip(self.host_ascii.as_str())).await;
        let place = self.place();
        let ips = match lookup {
            Err(Wire::Cancelled) => return Err(report.fail(Failure::cancelled())),
            Err(_) => return Err(report.fail(place.dns_timeout())),
            Ok(Err(e)) if e.is_nx_domain() || e.is_no_records_found() => return Err(report.fail(place.dns_not_found())),
            Ok(Err(e)) => {
                let timed_out = e.proto().is_some_and(|p| matches!(p.kind(), hickory_resolver::proto::ProtoErrorKind::Timeout));
                return Err(report.fail(if timed_out { place.dns_timeout() } else { place.dns_lookup_failed(&e) }));
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
