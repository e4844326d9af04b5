use super::*;
use std::f64::consts::PI;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/audio");

/// A 0.3 s, 1 kHz tone at half scale, written with hound.
fn write_wav(path: &Path, spec: hound::WavSpec) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let n = (spec.sample_rate as f64 * 0.3) as usize;
    for i in 0..n {
        let v = 0.5 * (2.0 * PI * 1000.0 * i as f64 / spec.sample_rate as f64).sin();
        for _ in 0..spec.channels {
            match (spec.sample_format, spec.bits_per_sample) {
                (hound::SampleFormat::Float, _) => w.write_sample(v as f32).unwrap(),
                (_, 16) => w.write_sample((v * 32767.0) as i16).unwrap(),
                (_, bits) => w
                    .write_sample((v * ((1i64 << (bits - 1)) - 1) as f64) as i32)
                    .unwrap(),
            }
        }
    }
    w.finalize().unwrap();
}

fn spec(channels: u16, rate: u32, bits: u16, float: bool) -> hound::WavSpec {
    hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    }
}

/// Level of the 1 kHz component and total RMS of a decoded prompt (middle part).
fn tone_levels(prompt: &Prompt, codec: Codec) -> (f64, f64) {
    let x: Vec<f64> = prompt
        .encoded(codec)
        .iter()
        .map(|c| f64::from(codec.decode(*c)) / 32768.0)
        .collect();
    let mid = &x[x.len() / 4..x.len() * 3 / 4];
    let (mut re, mut im) = (0.0, 0.0);
    for (i, v) in mid.iter().enumerate() {
        let phase = 2.0 * PI * 1000.0 * i as f64 / 8000.0;
        re += v * phase.cos();
        im += v * phase.sin();
    }
    let amplitude = 2.0 * (re * re + im * im).sqrt() / mid.len() as f64;
    let rms = (mid.iter().map(|v| v * v).sum::<f64>() / mid.len() as f64).sqrt();
    (amplitude, rms)
}

fn store_with_every_format() -> (tempfile::TempDir, PromptStore) {
    let dir = tempfile::tempdir().unwrap();
    let en = dir.path().join("en");
    write_wav(&en.join("menu/main.wav"), spec(2, 44_100, 16, false));
    std::fs::write(en.join("menu/main.txt"), "Press one for sales.\n").unwrap();
    write_wav(&en.join("pcm8k.wav"), spec(1, 8000, 16, false));
    write_wav(&en.join("pcm24.wav"), spec(1, 16_000, 24, false));
    write_wav(&en.join("pcm32.wav"), spec(1, 22_050, 32, false));
    write_wav(&en.join("float.wav"), spec(1, 48_000, 32, true));
    for (fixture, name) in [
        ("tone.flac", "flac.flac"),
        ("tone.ogg", "vorbis.ogg"),
        ("tone.mp3", "mp3.mp3"),
        ("tone-ulaw.wav", "ulaw.wav"),
        ("tone-alaw.wav", "alaw.wav"),
    ] {
        std::fs::copy(Path::new(FIXTURES).join(fixture), en.join(name)).unwrap();
    }
    std::fs::write(en.join("prompts.tsv"), "menu/main\tPress one\n").unwrap();
    write_wav(
        &dir.path().join("uk/menu/main.wav"),
        spec(1, 8000, 16, false),
    );
    let store = PromptStore::load(dir.path(), "en").unwrap();
    (dir, store)
}

#[test]
fn every_supported_format_loads_as_the_same_tone_at_8_khz() {
    let (_dir, store) = store_with_every_format();
    let ids = [
        "menu/main",
        "pcm8k",
        "pcm24",
        "pcm32",
        "float",
        "flac",
        "vorbis",
        "mp3",
        "ulaw",
        "alaw",
    ];
    assert_eq!(store.len("en"), ids.len());
    for id in ids {
        let prompt = store.get("en", id).unwrap().prompt;
        let seconds = prompt.duration().as_secs_f64();
        // MP3 and Vorbis add encoder delay and padding.
        assert!((0.29..0.40).contains(&seconds), "{id}: {seconds} s");
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let (tone, rms) = tone_levels(&prompt, codec);
            assert!(
                (0.42..0.56).contains(&tone),
                "{id} {codec:?}: 1 kHz level {tone}"
            );
            // Nearly all the energy is the tone: no aliasing or distortion.
            assert!(
                rms < tone / 2f64.sqrt() * 1.1,
                "{id}: rms {rms} vs tone {tone}"
            );
        }
    }
}

#[test]
fn prompt_id_is_the_path_under_the_language_and_text_comes_from_the_txt_file() {
    let (_dir, store) = store_with_every_format();
    let found = store.get("en", "menu/main").unwrap();
    assert_eq!(found.prompt.id, "menu/main");
    assert_eq!(found.prompt.text.as_deref(), Some("Press one for sales."));
    assert_eq!(store.get("en", "pcm8k").unwrap().prompt.text, None);
}

#[test]
fn a_missing_prompt_falls_back_to_the_default_language_and_says_so() {
    let (_dir, store) = store_with_every_format();
    let own = store.get("uk", "menu/main").unwrap();
    assert_eq!((own.language.as_str(), own.fell_back), ("uk", false));
    let fallback = store.get("uk", "flac").unwrap();
    assert_eq!(
        (fallback.language.as_str(), fallback.fell_back),
        ("en", true)
    );
    assert!(matches!(
        store.get("uk", "nope"),
        Err(PromptError::NotFound { .. })
    ));
}

#[test]
fn every_call_shares_one_copy_of_a_prompt() {
    let (_dir, store) = store_with_every_format();
    let a = store.get("en", "menu/main").unwrap().prompt;
    let b = store.get("en", "menu/main").unwrap().prompt;
    assert!(Arc::ptr_eq(&a, &b));
}

#[test]
fn an_undecodable_file_fails_the_load_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("en/menu")).unwrap();
    std::fs::write(
        dir.path().join("en/menu/broken.wav"),
        b"RIFF....not audio at all",
    )
    .unwrap();
    let err = PromptStore::load(dir.path(), "en").unwrap_err();
    assert!(matches!(err, PromptError::Decode { .. }));
    assert!(err.to_string().contains("menu/broken.wav"), "{err}");
}

#[test]
fn two_files_for_one_prompt_id_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_wav(&dir.path().join("en/a.wav"), spec(1, 8000, 16, false));
    std::fs::copy(
        Path::new(FIXTURES).join("tone.flac"),
        dir.path().join("en/a.flac"),
    )
    .unwrap();
    assert!(matches!(
        PromptStore::load(dir.path(), "en"),
        Err(PromptError::Duplicate { .. })
    ));
}
