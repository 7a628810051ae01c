using KillToken.Api.Handlers;
using KillToken.Api.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KillToken.Functions;

/// <summary>The drop-in wrapper routes of the native SDKs and their TokenGuard aliases: one line each, over <see cref="GatewayHandlers"/>.</summary>
public sealed class WrapperFunctions(GatewayHandlers gateway)
{
    [Function(nameof(OpenAIChatCompletions))]
    public Task<IActionResult> OpenAIChatCompletions([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.OpenAIChatCompletions)] HttpRequest req) =>
        gateway.OpenAIChatCompletionsAsync(req.HttpContext).AsAction();

    [Function(nameof(OpenAIModels))]
    public Task<IActionResult> OpenAIModels([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.OpenAIModels)] HttpRequest req) =>
        gateway.OpenAIModelsAsync(req.HttpContext).AsAction();

    [Function(nameof(AnthropicMessages))]
    public Task<IActionResult> AnthropicMessages([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.AnthropicMessages)] HttpRequest req) =>
        gateway.AnthropicMessagesAsync(req.HttpContext).AsAction();

    [Function(nameof(AnthropicV1Messages))]
    public Task<IActionResult> AnthropicV1Messages([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.AnthropicV1Messages)] HttpRequest req) =>
        gateway.AnthropicMessagesAsync(req.HttpContext).AsAction();

    [Function(nameof(GeminiGenerateContent))]
    public Task<IActionResult> GeminiGenerateContent([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.GeminiGenerateContent)] HttpRequest req, string model) =>
        gateway.GeminiGenerateContentAsync(req.HttpContext, model).AsAction();

    [Function(nameof(GeminiStreamGenerateContent))]
    public Task<IActionResult> GeminiStreamGenerateContent([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.GeminiStreamGenerateContent)] HttpRequest req, string model) =>
        gateway.GeminiStreamGenerateContentAsync(req.HttpContext, model).AsAction();

    [Function(nameof(ProxyOpenAIChatCompletions))]
    public Task<IActionResult> ProxyOpenAIChatCompletions([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.ProxyOpenAIChatCompletions)] HttpRequest req) =>
        gateway.OpenAIChatCompletionsAsync(req.HttpContext).AsAction();

    [Function(nameof(ProxyOpenAIModels))]
    public Task<IActionResult> ProxyOpenAIModels([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.ProxyOpenAIModels)] HttpRequest req) =>
        gateway.OpenAIModelsAsync(req.HttpContext).AsAction();

    [Function(nameof(ProxyAnthropicMessages))]
    public Task<IActionResult> ProxyAnthropicMessages([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.ProxyAnthropicMessages)] HttpRequest req) =>
        gateway.AnthropicMessagesAsync(req.HttpContext).AsAction();

    [Function(nameof(ProxyGeminiGenerateContent))]
    public Task<IActionResult> ProxyGeminiGenerateContent([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.ProxyGeminiGenerateContent)] HttpRequest req, string model) =>
        gateway.GeminiGenerateContentAsync(req.HttpContext, model).AsAction();

    [Function(nameof(ProxyGeminiStreamGenerateContent))]
    public Task<IActionResult> ProxyGeminiStreamGenerateContent([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.ProxyGeminiStreamGenerateContent)] HttpRequest req, string model) =>
        gateway.GeminiStreamGenerateContentAsync(req.HttpContext, model).AsAction();

    [Function(nameof(ProxyGeminiGenerateContentPath))]
    public Task<IActionResult> ProxyGeminiGenerateContentPath([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.ProxyGeminiGenerateContentPath)] HttpRequest req, string model) =>
        gateway.GeminiGenerateContentAsync(req.HttpContext, model).AsAction();
}
