using KillToken.Api.Handlers;
using KillToken.Api.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KillToken.Functions;

/// <summary>The OpenAPI document, the API reference page, llms.txt and llms-full.txt: one line each over the shared <see cref="ApiReferencePages"/>.</summary>
public static class ApiReferenceFunctions
{
    [Function(nameof(OpenApiDocument))]
    public static Task<IActionResult> OpenApiDocument([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.OpenApiDocument)] HttpRequest req) =>
        ApiReferencePages.OpenApiDocument(req.HttpContext).AsAction();

    [Function(nameof(ApiReference))]
    public static Task<IActionResult> ApiReference([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.ApiReference)] HttpRequest req) =>
        ApiReferencePages.Reference(req.HttpContext).AsAction();

    [Function(nameof(ApiReferenceAsset))]
    public static Task<IActionResult> ApiReferenceAsset([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.ApiReferenceAsset)] HttpRequest req, string file) =>
        ApiReferencePages.Asset(req.HttpContext, file).AsAction();

    [Function(nameof(LlmsTxt))]
    public static Task<IActionResult> LlmsTxt([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.LlmsTxt)] HttpRequest req) =>
        ApiReferencePages.LlmsTxt(req.HttpContext).AsAction();

    [Function(nameof(LlmsFullTxt))]
    public static Task<IActionResult> LlmsFullTxt([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.LlmsFullTxt)] HttpRequest req) =>
        ApiReferencePages.LlmsFullTxt(req.HttpContext).AsAction();
}
