#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| latchkey::fuzzing::session_code(data));
