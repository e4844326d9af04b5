//! Decoding audio files (WAV, MP3, FLAC, OGG/Vorbis) to mono samples with symphonia.

use std::fs::File;
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// Decoded audio: mono samples in -1.0..=1.0 at `rate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The mono samples (channels averaged).
    pub samples: Vec<f32>,
    /// The sample rate in Hz.
    pub rate: u32,
}

/// Decodes a whole file; the error says what went wrong (the caller names the file).
pub fn decode_file(path: &Path) -> Result<Decoded, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| format!("unrecognised audio format: {e}"))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or("no audio track")?;
    let track_id = track.id;
    let mut rate = track.codec_params.sample_rate;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| format!("unsupported codec: {e}"))?;

    let mut samples = Vec::new();
    let mut buffer: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break;
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(format!("cannot read: {e}")),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let audio = match decoder.decode(&packet) {
            Ok(audio) => audio,
            // One damaged frame in a long MP3 is skipped, as players do; a file
            // with no decodable audio at all is refused below.
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(e) => return Err(format!("cannot decode: {e}")),
        };
        let spec = *audio.spec();
        rate = Some(spec.rate);
        let channels = spec.channels.count().max(1);
        let needed = audio.capacity() as u64;
        let buf = match &mut buffer {
            Some(b) if b.capacity() as u64 >= needed * channels as u64 => b,
            _ => buffer.insert(SampleBuffer::new(needed, spec)),
        };
        buf.copy_interleaved_ref(audio);
        // Down-mix by averaging the channels.
        samples.extend(
            buf.samples()
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() / channels as f32),
        );
    }
    let rate = rate.ok_or("unknown sample rate")?;
    if samples.is_empty() {
        return Err("no audio could be decoded".to_string());
    }
    Ok(Decoded { samples, rate })
}
