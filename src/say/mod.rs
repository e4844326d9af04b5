//! say
