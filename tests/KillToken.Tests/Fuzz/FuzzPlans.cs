namespace KillToken.Tests.Fuzz;

/// <summary>
/// The cases of each test: a deterministic sweep (every endpoint × the family's inputs — all of them, or a seeded sample
/// in CI) and a random phase that draws from the same inputs.
/// </summary>
internal static class FuzzPlans
{
    /// <summary>Bodies sent to routes that ignore bodies: they must still be ignored, not crash the route.</summary>
    internal static readonly string[] IgnoredBodyNames = ["truncated JSON", "duplicate top-level key, another value", "invalid UTF-8 in a value: lone continuation byte 0x80", "arrays nested 10,000 deep in a field", "escaped lone surrogate: a value ending in a lone high surrogate \\ud800"];

    /// <summary>Corruptions every body-reading route gets even in CI: the reproductions.</summary>
    internal static readonly string[] CoreBodyNames =
    [
        "truncated JSON", "duplicate top-level key, another value", "duplicate key in a nested object",
        "invalid UTF-8 in a value: lone continuation byte 0x80", "invalid UTF-8 in a key: lone continuation byte 0x80",
        "escaped lone surrogate: a lone low surrogate \\udfff", "escaped lone surrogate: a value ending in a lone high surrogate \\ud800",
        "arrays nested 10,000 deep in a field", "number 1e400", "empty body", "body is JSON null", "UTF-8 BOM before the body",
        "raw NUL inside a string", "100k-character string",
    ];

    public const int CiBodiesPerRoute = 6;
    public const int CiQueriesPerRoute = 4;
    public const int CiAuthsPerRoute = 4;
    public const int CiGarbageIdsPerParameter = 4;
    public const int CiCostlyCasesPerFamily = 2;

    public static IEnumerable<FuzzCase> Bodies(IReadOnlyList<RouteSpec> routes)
    {
        var index = 0;
        foreach (var route in routes)
        {
            var inputs = !route.ReadsBody
                ? FuzzInputs.Bodies.Where(b => IgnoredBodyNames.Contains(b.Name))
                : FuzzSettings.Exhaustive
                    ? FuzzInputs.Bodies
                    : FuzzInputs.Bodies.Where(b => CoreBodyNames.Contains(b.Name))
                        .Concat(Sample(FuzzInputs.Bodies.Where(b => !CoreBodyNames.Contains(b.Name)).ToList(), CiBodiesPerRoute, "bodies/" + route.Name));
            foreach (var input in inputs)
            {
                yield return new FuzzCase("bodies", index++, route) { Body = input };
            }
        }
    }

    public static FuzzCase? RandomBody(IReadOnlyList<RouteSpec> routes, int i, Random rng)
    {
        var readers = routes.Where(r => r.ReadsBody).ToList();
        return new FuzzCase("bodies-random", i, JsonSurgery.Pick(rng, readers)) { Body = JsonSurgery.Pick(rng, FuzzInputs.Bodies) };
    }

    /// <summary>Every field of every valid body turned into each other JSON type (CI: one other type per field, seeded).</summary>
    public static IEnumerable<FuzzCase> Fields(IReadOnlyList<RouteSpec> routes, FuzzContext context)
    {
        var index = 0;
        foreach (var route in routes.Where(r => r.ReadsBody && r.ValidBody is not null))
        {
            var template = route.ValidBody!(context);
            foreach (var path in JsonSurgery.Paths(template))
            {
                var mutations = FieldMutation.For(template, path).ToList();
                var chosen = FuzzSettings.Exhaustive ? mutations : Sample(mutations, 1, $"fields/{route.Name}/{path}");
                foreach (var mutation in chosen)
                {
                    yield return new FuzzCase("fields", index++, route) { Field = mutation };
                }
            }
        }
    }

    public static FuzzCase? RandomField(IReadOnlyList<RouteSpec> routes, FuzzContext context, int i, Random rng)
    {
        var route = JsonSurgery.Pick(rng, routes.Where(r => r.ReadsBody && r.ValidBody is not null).ToList());
        var template = route.ValidBody!(context);
        var path = JsonSurgery.Pick(rng, JsonSurgery.Paths(template));
        return new FuzzCase("fields-random", i, route) { Field = JsonSurgery.Pick(rng, FieldMutation.For(template, path).ToList()) };
    }

    public static IEnumerable<FuzzCase> Contents(IReadOnlyList<RouteSpec> routes)
    {
        var index = 0;
        foreach (var route in routes)
        {
            var inputs = !route.ReadsBody ? FuzzInputs.Contents.Take(2).ToList()
                : route.Costly && !FuzzSettings.Exhaustive ? Sample(FuzzInputs.Contents, CiCostlyCasesPerFamily + 3, "contents/" + route.Name)
                : FuzzInputs.Contents;
            foreach (var input in inputs)
            {
                yield return new FuzzCase("contents", index++, route) { Content = input };
            }
        }
    }

    public static IEnumerable<FuzzCase> Queries(IReadOnlyList<RouteSpec> routes)
    {
        var index = 0;
        foreach (var route in routes)
        {
            var inputs = route.ReadsDates || route.Paginates || route.ValidQuery is not null || FuzzSettings.Exhaustive
                ? FuzzInputs.Queries
                : Sample(FuzzInputs.Queries, route.Costly ? CiCostlyCasesPerFamily : CiQueriesPerRoute, "queries/" + route.Name);
            foreach (var input in inputs)
            {
                yield return new FuzzCase("queries", index++, route) { Query = input };
            }
        }
    }

    public static FuzzCase? RandomQuery(IReadOnlyList<RouteSpec> routes, int i, Random rng) =>
        new("queries-random", i, JsonSurgery.Pick(rng, routes)) { Query = JsonSurgery.Pick(rng, FuzzInputs.Queries) };

    /// <summary>Every credential variant on every route, and each gateway header with hostile values on top of the right credential.</summary>
    public static IEnumerable<FuzzCase> Headers(IReadOnlyList<RouteSpec> routes)
    {
        var index = 0;
        var gatewayHeaders = FuzzInputs.AllGatewayHeaderInputs().ToList();
        foreach (var route in routes)
        {
            // Routes without auth ignore credentials (and sign-in verifies a password, 250 ms): CI sends them a few.
            var auths = FuzzSettings.Exhaustive
                ? FuzzInputs.Auths.Skip(1).ToList()
                : route.Auth == RouteAuth.None
                ? Sample(FuzzInputs.Auths.Skip(1).ToList(), route.Costly ? 1 : 2, "auths/" + route.Name)
                : FuzzInputs.Auths.Where(a => a.Kind is AuthKind.None or AuthKind.WrongKind or AuthKind.OtherTenant)
                    .Concat(Sample(FuzzInputs.Auths.Where(a => a.Kind is not (AuthKind.Right or AuthKind.None or AuthKind.WrongKind or AuthKind.OtherTenant)).ToList(), CiAuthsPerRoute, "auths/" + route.Name))
                    .ToList();
            foreach (var auth in auths)
            {
                yield return new FuzzCase("headers", index++, route) { Auth = auth };
            }

            // CI: each gateway header once per route, with a seeded choice of value.
            var headers = FuzzSettings.Exhaustive
                ? gatewayHeaders
                : route.Auth == RouteAuth.None
                ? Sample(gatewayHeaders, route.Costly ? 1 : 2, "headers/" + route.Name)
                : FuzzInputs.GatewayHeaders.Select(h => Sample(gatewayHeaders.Where(g => g.Name == h).ToList(), 1, $"headers/{route.Name}/{h}")[0]).ToList();
            foreach (var header in headers)
            {
                yield return new FuzzCase("headers", index++, route) { Header = header };
            }
        }
    }

    public static FuzzCase? RandomHeader(IReadOnlyList<RouteSpec> routes, int i, Random rng)
    {
        var route = JsonSurgery.Pick(rng, routes);
        return rng.Next(2) == 0
            ? new FuzzCase("headers-random", i, route) { Auth = JsonSurgery.Pick(rng, FuzzInputs.Auths) }
            : new FuzzCase("headers-random", i, route) { Header = JsonSurgery.Pick(rng, FuzzInputs.AllGatewayHeaderInputs().ToList()) };
    }

    /// <summary>Each path parameter given another workspace's id and garbage, the other parameters real.</summary>
    public static IEnumerable<FuzzCase> Ids(IReadOnlyList<RouteSpec> routes)
    {
        var index = 0;
        foreach (var route in routes.Where(r => r.Parameters.Count > 0))
        {
            foreach (var parameter in route.Parameters)
            {
                var garbage = FuzzSettings.Exhaustive
                    ? FuzzInputs.GarbageIds
                    : Sample(FuzzInputs.GarbageIds, CiGarbageIdsPerParameter, $"ids/{route.Name}/{parameter}");
                foreach (var id in garbage.Select(g => new IdInput(IdKind.Garbage, g)).Prepend(IdInput.Foreign))
                {
                    yield return new FuzzCase("ids", index++, route) { Ids = new Dictionary<string, IdInput> { [parameter] = id } };
                }
            }
        }
    }

    public static FuzzCase? RandomIds(IReadOnlyList<RouteSpec> routes, int i, Random rng)
    {
        var route = JsonSurgery.Pick(rng, routes.Where(r => r.Parameters.Count > 0).ToList());
        var ids = route.Parameters.ToDictionary(p => p, _ => rng.Next(3) switch
        {
            0 => IdInput.Real,
            1 => IdInput.Foreign,
            _ => new IdInput(IdKind.Garbage, JsonSurgery.Pick(rng, FuzzInputs.GarbageIds)),
        });
        return new FuzzCase("ids-random", i, route) { Ids = ids };
    }

    /// <summary>Everything at once: a random route with a random pick in every dimension.</summary>
    public static FuzzCase? RandomMix(IReadOnlyList<RouteSpec> routes, FuzzContext context, int i, Random rng)
    {
        var route = JsonSurgery.Pick(rng, routes);
        var fuzzCase = new FuzzCase("mix", i, route)
        {
            Ids = route.Parameters.ToDictionary(p => p, _ => rng.Next(10) switch
            {
                < 7 => IdInput.Real,
                7 => IdInput.Foreign,
                _ => new IdInput(IdKind.Garbage, JsonSurgery.Pick(rng, FuzzInputs.GarbageIds)),
            }),
            Auth = rng.Next(4) == 0 ? JsonSurgery.Pick(rng, FuzzInputs.Auths) : null,
            Query = rng.Next(4) == 0 ? JsonSurgery.Pick(rng, FuzzInputs.Queries) : null,
            Header = rng.Next(4) == 0 ? JsonSurgery.Pick(rng, FuzzInputs.AllGatewayHeaderInputs().ToList()) : null,
            // Content types and framing are a body's: a route that reads no body acts on the request whatever follows it.
            Content = route.ReadsBody && rng.Next(8) == 0 ? JsonSurgery.Pick(rng, FuzzInputs.Contents) : null,
        };
        if (fuzzCase.Content is { MayDropConnection: true })
        {
            // Broken framing cuts the body at its declared length: a corrupted body's prefix may well be a valid body
            // (e.g. the valid body twice, cut in half), so framing is fuzzed on the valid body only.
            return fuzzCase;
        }

        switch (rng.Next(3))
        {
            case 0:
                fuzzCase = fuzzCase with { Body = JsonSurgery.Pick(rng, FuzzInputs.Bodies) };
                break;
            case 1 when route.ValidBody is not null:
                var template = route.ValidBody(context);
                var path = JsonSurgery.Pick(rng, JsonSurgery.Paths(template));
                fuzzCase = fuzzCase with { Field = JsonSurgery.Pick(rng, FieldMutation.For(template, path).ToList()) };
                break;
        }

        return fuzzCase;
    }

    /// <summary>A seeded sample of <paramref name="count"/> distinct items (all of them if there are fewer).</summary>
    public static IReadOnlyList<T> Sample<T>(IReadOnlyList<T> items, int count, string salt)
    {
        if (items.Count <= count)
        {
            return items;
        }

        var rng = FuzzSettings.CaseRandom("sample/" + salt, 0);
        return [.. items.Select(item => (item, key: rng.Next())).OrderBy(p => p.key).Take(count).Select(p => p.item)];
    }
}
