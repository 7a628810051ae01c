using System.Globalization;
using System.Text;
using KillToken.Providers.Bedrock;

namespace KillToken.Tests.Providers;

/// <summary>
/// The signer against AWS's published Signature Version 4 test suite
/// (docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html; the same vectors ship in
/// github.com/awslabs/aws-c-auth, tests/aws-signing-test-suite/v4/&lt;name&gt;/header-signed-request.txt and context.json).
/// Every vector: AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, us-east-1, service "service", 20150830T123600Z,
/// host example.amazonaws.com, empty body. The expected Authorization values are copied verbatim from the suite.
/// </summary>
[TestClass]
public sealed class SigV4SignerTests
{
    private const string Host = "example.amazonaws.com";
    private const string Date = "20150830T123600Z";
    private static readonly AwsKeys Keys = new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", null);
    private static readonly DateTimeOffset Timestamp = DateTimeOffset.Parse("2015-08-30T12:36:00Z", CultureInfo.InvariantCulture);

    // get-vanilla-with-session-token/context.json "token".
    private const string VanillaSessionToken = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";

    // post-sts-token/post-sts-header-before/request.txt, X-Amz-Security-Token.
    private const string StsToken =
        "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

    [TestMethod]
    [DataRow("get-vanilla", "GET", "/", "", null,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")]
    [DataRow("get-vanilla-query-order-key-case", "GET", "/", "?Param2=value2&Param1=value1", null,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")]
    [DataRow("post-vanilla", "POST", "/", "", null,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")]
    [DataRow("get-vanilla-with-session-token", "GET", "/", "", VanillaSessionToken,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8")]
    [DataRow("post-sts-header-before", "POST", "/", "", StsToken,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead")]
    public void Compute_MatchesThePublishedSuite(string vector, string method, string path, string query, string? sessionToken, string expectedAuthorization)
    {
        var headers = new List<KeyValuePair<string, string>> { new("Host", Host), new("X-Amz-Date", Date) };
        if (sessionToken is not null)
        {
            headers.Add(new("X-Amz-Security-Token", sessionToken));
        }

        var signature = SigV4Signer.Compute(method, path, query, headers, SigV4Signer.EmptyPayloadHash, Keys with { SessionToken = sessionToken },
            "us-east-1", "service", Timestamp);

        Assert.AreEqual(expectedAuthorization, signature.Authorization, vector);
    }

    [TestMethod]
    public void Compute_GetVanilla_CanonicalRequestAndStringToSignMatchTheSuite()
    {
        var signature = SigV4Signer.Compute("GET", "/", "", [new("host", Host), new("x-amz-date", Date)], SigV4Signer.EmptyPayloadHash,
            Keys, "us-east-1", "service", Timestamp);

        Assert.AreEqual(
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            signature.CanonicalRequest);
        Assert.AreEqual(
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
            signature.StringToSign);
    }

    [TestMethod]
    public void CanonicalForms_EncodeThePathTwiceAndSortTheQuery()
    {
        // Bedrock model ids travel as %3A and are signed as %253A (every service but S3 double-encodes the path).
        Assert.AreEqual("/model/anthropic.claude-3-5-haiku-20241022-v1%253A0/converse",
            SigV4Signer.CanonicalPath("/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"));
        Assert.AreEqual("A=0&a=1&b=2&b=3", SigV4Signer.CanonicalQuery("?b=3&a=1&b=2&A=0"));
        Assert.AreEqual("k=a%20b%2Fc", SigV4Signer.CanonicalQuery("k=a%20b/c"));
        Assert.AreEqual("/", SigV4Signer.CanonicalPath(""));
    }

    [TestMethod]
    public void Sign_SetsTheHeadersItSigns()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://bedrock-runtime.eu-west-1.amazonaws.com/model/amazon.nova-lite-v1%3A0/converse");
        var payload = Encoding.UTF8.GetBytes("{\"messages\":[]}");

        var signature = SigV4Signer.Sign(request, payload, new AwsKeys("AKIDEXAMPLE", "secret", "session-token"), "eu-west-1", "bedrock", Timestamp);

        Assert.AreEqual("bedrock-runtime.eu-west-1.amazonaws.com", request.Headers.Host);
        Assert.AreEqual(Date, request.Headers.GetValues("x-amz-date").Single());
        Assert.AreEqual("session-token", request.Headers.GetValues("x-amz-security-token").Single());
        Assert.AreEqual(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(payload)), request.Headers.GetValues("x-amz-content-sha256").Single());
        Assert.AreEqual("host;x-amz-content-sha256;x-amz-date;x-amz-security-token", signature.SignedHeaders);
        StringAssert.StartsWith(request.Headers.GetValues("Authorization").Single(),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/bedrock/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=");
        StringAssert.Contains(signature.CanonicalRequest, "/model/amazon.nova-lite-v1%253A0/converse");
    }
}
