// The same `USTD_MUTANT` handling as ustd's, so a model and the code it
// checks always agree on which mutant is built.
include!("../build.rs");
