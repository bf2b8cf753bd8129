// The widget for other sites: <script src="https://LSP/widget/embed.js" async></script> puts
// an iframe of the LSP's /embed page where the tag stands. The LSP lets only the sites in its
// [web] frame_ancestors frame it.
(() => {
  const script = document.currentScript;
  if (!script || !script.src) return;
  const frame = document.createElement("iframe");
  frame.src = new URL("/embed", script.src).href;
  frame.title = "Buy inbound liquidity";
  frame.loading = "lazy";
  frame.referrerPolicy = "no-referrer";
  frame.width = "100%";
  frame.height = "760";
  frame.style.border = "0";
  frame.style.maxWidth = "34rem";
  script.after(frame);
})();
