//! Feature flag names and values: the convention every capability follows
//! (`CAP_<CAPABILITY>_ENABLED`, `_VERSION`, `_DEGRADED`) plus the extra flags a
//! capability declares. Spelled once, in `stackpro-conventions`, which the handler
//! runtime reads the same names from.

pub use stackpro_conventions::flags::*;
