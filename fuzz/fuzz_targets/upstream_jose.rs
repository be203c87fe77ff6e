#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| latchkey::fuzzing::upstream_jose(data));
