//! `anycastd run`: loop mode, whose home is [`crate::daemon`]. The command line's options become its
//! [`Options`] in `main.rs`; this only hands them over.

use super::Exit;
use crate::context::Context;
use crate::error::Error;

pub use crate::daemon::Options;

/// Runs passes every interval until a signal (see [`crate::daemon::run`]).
pub fn run_loop(context: &Context, options: &Options) -> Result<Exit, Error> {
    crate::daemon::run(context, options)
}
