using System.Security.Cryptography;
using System.Text;

namespace Sidecar.AppConfig;

/// <summary>
/// Decrypts Spring Cloud Config's symmetric <c>{cipher}</c> values with <c>ENCRYPT_KEY</c>, as a Spring
/// client with <c>encrypt.key</c> does (Spring Security's <c>Encryptors.text(key, salt)</c>): the value is
/// hex; its first 16 bytes are the IV, the rest AES-256/CBC/PKCS5 ciphertext under a key derived with
/// PBKDF2-HMAC-SHA1 (1024 iterations, 256 bits) from the key text and the hex-decoded salt (default
/// <c>deadbeef</c>); the plaintext is UTF-8. What the Config Server's <c>/encrypt</c> endpoint writes with
/// the same key and salt reads back here (docs/config-server.md#encrypted-values).
/// </summary>
internal sealed class CipherDecryptor
{
    /// <summary>Spring's prefix of an encrypted value.</summary>
    public const string Prefix = "{cipher}";

    /// <summary>Spring's default salt (<c>encrypt.salt</c>).</summary>
    public const string DefaultSalt = "deadbeef";

    private const int IvBytes = 16;
    private const int Iterations = 1024;
    private const int KeyBytes = 32;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly byte[] _key;

    public CipherDecryptor(string key, string salt = DefaultSalt)
    {
        _key = Rfc2898DeriveBytes.Pbkdf2(key, Convert.FromHexString(salt), Iterations, HashAlgorithmName.SHA1, KeyBytes);
    }

    /// <summary>Whether a value is encrypted (starts with <c>{cipher}</c>).</summary>
    public static bool IsEncrypted(string value) => value.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>Decrypts the text after <c>{cipher}</c>; false when it is not this key's ciphertext (wrong key, not hex, too short).</summary>
    public bool TryDecrypt(string value, out string plaintext)
    {
        plaintext = "";
        var hex = IsEncrypted(value) ? value.AsSpan(Prefix.Length) : value.AsSpan();
        if (hex.Length % 2 != 0 || hex.Length < 4 * IvBytes)
        {
            return false;
        }

        var bytes = new byte[hex.Length / 2];
        if (Convert.FromHexString(hex, bytes, out _, out _) != System.Buffers.OperationStatus.Done)
        {
            return false;
        }

        try
        {
            using var aes = Aes.Create();
            aes.Key = _key;
            var clear = aes.DecryptCbc(bytes.AsSpan(IvBytes), bytes.AsSpan(0, IvBytes), PaddingMode.PKCS7);
            plaintext = StrictUtf8.GetString(clear);
            return true;
        }
        catch (Exception ex) when (ex is CryptographicException or DecoderFallbackException)
        {
            return false; // a wrong key ends in bad padding or, rarely, in bytes that are not UTF-8
        }
    }

    /// <summary>Checks an <c>ENCRYPT_KEY</c> at start; null when usable, else why not.</summary>
    public static string? ValidateKey(string key) =>
        key.Contains("RSA PRIVATE KEY", StringComparison.Ordinal) || key.Contains("RSA PUBLIC KEY", StringComparison.Ordinal) || key.StartsWith("ssh-rsa", StringComparison.Ordinal)
            ? "an RSA key is not supported: set the symmetric key the Config Server encrypts with"
            : null;

    /// <summary>Checks an <c>ENCRYPT_SALT</c> at start: hex, as Spring's <c>Hex.decode</c> wants it; null when usable.</summary>
    public static string? ValidateSalt(string salt) =>
        salt.Length == 0 || salt.Length % 2 != 0 || !salt.All(char.IsAsciiHexDigit)
            ? $"'{salt}' is not hex (an even number of 0-9, a-f), as Spring's encrypt.salt"
            : null;
}
