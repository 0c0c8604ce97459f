//! Which services a flag change impacts: configured by flag key and by flag tag.

use std::collections::HashMap;

/// Services impacted by flags, by key or by tag (`impacted_resources` of the change event).
/// A change that matches nothing impacts the sender's default service
/// ([`ChangeOrigin::service`](openfeature_hooks_datadog::ChangeOrigin::service)).
///
/// ```
/// use openfeature_hooks_relay::ImpactMap;
///
/// let map = ImpactMap::parse("new-checkout=checkout,cart; tag:team:payments=billing")?;
/// assert_eq!(map.services("new-checkout", &["team:payments".into()]), ["checkout", "cart", "billing"]);
/// assert!(map.services("dark-mode", &[]).is_empty());
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImpactMap {
    by_flag: HashMap<String, Vec<String>>,
    by_tag: HashMap<String, Vec<String>>,
}

impl ImpactMap {
    /// A map that matches nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Changes of `flag` impact `services`.
    #[must_use]
    pub fn flag(
        mut self,
        flag: impl Into<String>,
        services: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.by_flag
            .entry(flag.into())
            .or_default()
            .extend(services.into_iter().map(Into::into));
        self
    }

    /// Changes of a flag tagged `tag` impact `services`.
    #[must_use]
    pub fn tag(
        mut self,
        tag: impl Into<String>,
        services: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.by_tag
            .entry(tag.into())
            .or_default()
            .extend(services.into_iter().map(Into::into));
        self
    }

    /// Reads `RELAY_IMPACTED_SERVICES`' form: entries separated by `;`, each
    /// `<flag key>=<service>,<service>` or `tag:<tag>=<service>,...`.
    ///
    /// # Errors
    /// An entry without `=` or without a service.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut map = Self::new();
        for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((name, services)) = entry.rsplit_once('=') else {
                return Err(format!("impact entry {entry:?} has no `=`"));
            };
            let services: Vec<&str> = services
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if services.is_empty() {
                return Err(format!("impact entry {entry:?} names no service"));
            }
            map = match name.trim().strip_prefix("tag:") {
                Some(tag) => map.tag(tag, services),
                None => map.flag(name.trim(), services),
            };
        }
        Ok(map)
    }

    /// The services a change of `flag`, tagged `tags`, impacts: the flag's, then each tag's,
    /// each service once. Empty when nothing matches.
    pub fn services(&self, flag: &str, tags: &[String]) -> Vec<String> {
        let mut services: Vec<String> = Vec::new();
        let matched = self
            .by_flag
            .get(flag)
            .into_iter()
            .chain(tags.iter().filter_map(|tag| self.by_tag.get(tag)))
            .flatten();
        for service in matched {
            if !services.contains(service) {
                services.push(service.clone());
            }
        }
        services
    }
}
