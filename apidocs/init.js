// Renders the gateway's OpenAPI document with Swagger UI (swagger-ui/, embedded in the
// gateway). A file of its own, not an inline script: the page's Content-Security-Policy
// allows scripts from the API's own origin only.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Every tag's operations listed, their details folded.
    docExpansion: "list",
    // No call to the public validator: the page reaches no host but the API's.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
