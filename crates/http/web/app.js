// The Inbound widget: buys an LSPS1 channel (bLIP-51) over the LSP's HTTP transport and follows
// the order. Plain ES module, no dependencies. Everything the LSP sends is shown with
// textContent, never parsed as HTML. Prices come from /widget/api/quote, the LSP's own formula.

const problems = [];
// Script errors and CSP violations are kept on <html data-problems> (the browser tests read it).
function problem(kind, detail) {
  problems.push(`${kind}: ${detail}`);
  document.documentElement.dataset.problems = problems.join("\n");
}
window.addEventListener("error", (event) => problem("error", event.message));
window.addEventListener("unhandledrejection", (event) => problem("rejection", String(event.reason)));
document.addEventListener("securitypolicyviolation", (event) =>
  problem("csp", `${event.violatedDirective} ${event.blockedURI}`),
);

const $ = (id) => document.getElementById(id);
const embedded = location.pathname.startsWith("/embed");
const base = embedded ? "/embed" : "";
const NODE = /^(0[23][0-9a-fA-F]{64})(?:@([^\s@]{1,255}:[0-9]{1,5}))?$/;
const ORDER_ID = /^[A-Za-z0-9._~-]{1,64}$/;
const POLL_MS = 2000;
let config = null;
let calls = 0;

function status(text) {
  $("status").textContent = text;
}

async function rpc(method, params, nodeId, address) {
  calls += 1;
  const body = { jsonrpc: "2.0", id: `w${calls}-${crypto.getRandomValues(new Uint32Array(2)).join("")}`, method, params };
  if (nodeId) body["x-inbound-node-id"] = nodeId;
  if (address) body["x-inbound-node-address"] = address;
  const response = await fetch(config.lsps_path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (response.status === 429) throw new Error("Too many requests from here; wait a moment and try again.");
  if (!response.ok) throw new Error(`The LSP answered HTTP ${response.status}.`);
  const answer = await response.json();
  if (answer.error) {
    const error = new Error(answer.error.message || "The LSP refused.");
    error.code = answer.error.code;
    error.property = answer.error.data && answer.error.data.property;
    throw error;
  }
  return answer.result;
}

// Whole satoshis (as the LSP sends them: decimal strings) to text, exactly.
function sat(value) {
  return `${BigInt(value).toLocaleString("en-US")} sat`;
}

function btc(value) {
  const sats = BigInt(value);
  const whole = sats / 100000000n;
  const fraction = (sats % 100000000n).toString().padStart(8, "0").replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : `${whole}`;
}

function days(blocks) {
  const d = Math.round(Number(blocks) / 144);
  return `${d} day${d === 1 ? "" : "s"} (${blocks} blocks)`;
}

function slider(input, min, max, step, value) {
  input.min = String(min);
  input.max = String(max);
  input.step = String(step);
  input.value = String(value);
}

function niceStep(span) {
  const rough = Math.max(1, Math.round(span / 200));
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  return Math.max(1, Math.round(rough / magnitude) * magnitude);
}

// A hint only: the LSP checks the address for its network when the order is created.
function plausibleAddress(text) {
  const prefixes = { bitcoin: ["bc1", "1", "3"], testnet: ["tb1", "m", "n", "2"], signet: ["tb1", "m", "n", "2"], regtest: ["bcrt1", "m", "n", "2"] };
  const lower = text.toLowerCase();
  const bech32 = /^[a-z]{2,4}1[02-9ac-hj-np-z]{8,87}$/.test(lower);
  const base58 = /^[1-9A-HJ-NP-Za-km-z]{25,35}$/.test(text);
  return (bech32 || base58) && (prefixes[config.network] || []).some((prefix) => lower.startsWith(prefix));
}

function qrUrl(text) {
  return `/widget/api/qr.svg?text=${encodeURIComponent(text)}`;
}

function copyButton(button, text) {
  button.onclick = async () => {
    try {
      await navigator.clipboard.writeText(text);
      status("Copied.");
    } catch {
      status("Copying is not allowed here: select the text and copy it.");
    }
  };
}

// ── Buying ──────────────────────────────────────────────────────────────────────────────────

async function buyPage() {
  const info = await rpc("lsps1.get_info", {});
  const lsp = $("lsp-balance");
  const expiry = $("expiry");
  const client = $("client-balance");
  const lspMin = Number(info.min_initial_lsp_balance_sat);
  const lspMax = Number(info.max_initial_lsp_balance_sat);
  slider(lsp, lspMin, lspMax, niceStep(lspMax - lspMin), Math.min(lspMax, Math.max(lspMin, 1000000)));
  const maxExpiry = Number(info.max_channel_expiry_blocks);
  slider(expiry, Math.min(144, maxExpiry), maxExpiry, Math.min(144, maxExpiry), Math.min(maxExpiry, 4320));
  const clientMin = Number(info.min_initial_client_balance_sat);
  const clientMax = Number(info.max_initial_client_balance_sat);
  slider(client, clientMin, clientMax, niceStep(Math.max(1, clientMax - clientMin)), clientMin);
  $("client-balance-field").hidden = clientMax === 0;

  let pending = null;
  let asked = 0;
  const refresh = () => {
    $("lsp-balance-out").textContent = sat(lsp.value);
    $("expiry-out").textContent = days(expiry.value);
    $("client-balance-out").textContent = sat(client.value);
    // Until the new price arrives, none is shown as current.
    $("price").dataset.fee = "";
    $("price").textContent = "Pricing…";
    clearTimeout(pending);
    pending = setTimeout(async () => {
      const ask = ++asked;
      const query = new URLSearchParams({
        lsp_balance_sat: lsp.value,
        client_balance_sat: client.value,
        channel_expiry_blocks: expiry.value,
      });
      try {
        const response = await fetch(`/widget/api/quote?${query}`);
        const quote = await response.json();
        if (ask !== asked) return;
        if (quote.error) {
          $("price").textContent = `Not offered: ${quote.error.property || ""} ${quote.error.message}`.trim();
          $("price").dataset.fee = "";
          return;
        }
        const onchain = quote.onchain ? ` · on chain: ${sat(quote.onchain.order_total_sat)}` : "";
        $("price").textContent = `Fee ${sat(quote.fee_sat)} · you pay ${sat(quote.order_total_sat)}${onchain}`;
        $("price").dataset.fee = String(quote.fee_sat);
      } catch (error) {
        if (ask === asked) $("price").textContent = `No price: ${error.message}`;
      }
    }, 150);
  };
  for (const input of [lsp, expiry, client]) input.addEventListener("input", refresh);
  refresh();

  const node = $("node");
  const refund = $("refund");
  const checkNode = () => {
    const ok = NODE.test(node.value.trim());
    node.setAttribute("aria-invalid", String(node.value !== "" && !ok));
    $("node-help").textContent = ok || node.value === ""
      ? "The channel is opened to this node only."
      : "A node id is 66 hex digits starting with 02 or 03, optionally followed by @host:port.";
    return ok;
  };
  const checkRefund = () => {
    const text = refund.value.trim();
    const ok = text === "" || plausibleAddress(text);
    refund.setAttribute("aria-invalid", String(!ok));
    $("refund-help").textContent = ok
      ? "Where your payment goes back if the channel cannot be opened."
      : `This does not look like a ${config.network} address.`;
    return ok;
  };
  node.addEventListener("input", checkNode);
  refund.addEventListener("input", checkRefund);

  $("order-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("form-error").textContent = "";
    if (!checkNode() || !checkRefund()) {
      $("form-error").textContent = "Fix the highlighted fields first.";
      return;
    }
    const [, nodeId, address] = NODE.exec(node.value.trim());
    const params = {
      lsp_balance_sat: lsp.value,
      client_balance_sat: client.value,
      required_channel_confirmations: info.min_required_channel_confirmations,
      funding_confirms_within_blocks: info.min_funding_confirms_within_blocks,
      channel_expiry_blocks: Number(expiry.value),
      announce_channel: false,
    };
    if (refund.value.trim()) params.refund_onchain_address = refund.value.trim();
    $("buy-button").disabled = true;
    try {
      const order = await rpc("lsps1.create_order", params, nodeId.toLowerCase(), address);
      if (!ORDER_ID.test(order.order_id)) throw new Error("The LSP sent an order id this page cannot use.");
      location.assign(`${base}/order/${encodeURIComponent(order.order_id)}?node=${nodeId.toLowerCase()}`);
    } catch (error) {
      const field = error.property ? ` (${error.property})` : "";
      $("form-error").textContent = `The order was refused${field}: ${error.message}`;
      $("buy-button").disabled = false;
    }
  });
  $("buy").hidden = false;
  status("");
}

// ── Following an order ──────────────────────────────────────────────────────────────────────

function stage(order) {
  const bolt11 = order.payment.bolt11;
  const onchain = order.payment.onchain;
  const states = [bolt11 && bolt11.state, onchain && onchain.state];
  if (order.order_state === "COMPLETED") return "completed";
  if (order.order_state === "FAILED") return states.includes("REFUNDED") ? "refunded" : "failed";
  if (states.includes("HOLD") || states.includes("PAID")) return "paid";
  return "awaiting_payment";
}

const TEXT = {
  awaiting_payment: "Waiting for your payment.",
  paid: "Paid. The LSP is opening your channel…",
  completed: "Your channel is open.",
  failed: "The LSP could not open the channel.",
  refunded: "The LSP could not open the channel; your payment was refunded.",
};

function render(order) {
  const now = stage(order);
  $("order-state").textContent = TEXT[now];
  $("order-state").dataset.state = now;
  const done = { created: true, paid: now !== "awaiting_payment", open: now === "completed" };
  for (const step of $("steps").children) step.classList.toggle("done", Boolean(done[step.dataset.step]));
  const waiting = now === "awaiting_payment";
  const bolt11 = order.payment.bolt11;
  $("pay-lightning").hidden = !(waiting && bolt11);
  if (waiting && bolt11 && $("invoice").textContent !== bolt11.invoice) {
    $("invoice").textContent = bolt11.invoice;
    $("lightning-total").textContent = `${sat(bolt11.order_total_sat)} (fee ${sat(bolt11.fee_total_sat)})`;
    $("invoice-qr").src = qrUrl(`lightning:${bolt11.invoice}`.toUpperCase());
    copyButton($("copy-invoice"), bolt11.invoice);
  }
  const onchain = order.payment.onchain;
  $("pay-onchain").hidden = !(waiting && onchain);
  if (waiting && onchain) {
    const uri = `bitcoin:${onchain.address}?amount=${btc(onchain.order_total_sat)}`;
    if ($("bip21").textContent !== uri) {
      $("bip21").textContent = uri;
      $("onchain-total").textContent = `${sat(onchain.order_total_sat)} to ${onchain.address}`;
      $("onchain-qr").src = qrUrl(uri);
      copyButton($("copy-bip21"), uri);
    }
  }
  $("channel").hidden = !order.channel;
  if (order.channel) {
    $("funding").textContent = order.channel.funding_outpoint;
    $("lease").textContent = `Kept open at least until ${new Date(order.channel.expires_at).toLocaleString()}.`;
  }
  return now === "completed" || now === "refunded" || (now === "failed" && !onchainRefundPending(order));
}

function onchainRefundPending(order) {
  const onchain = order.payment.onchain;
  return Boolean(onchain && onchain.state === "PAID");
}

// The funding transaction's depth, until it is buried deep enough not to matter.
const DEEP = 6;

async function followConfirmations(orderId, nodeId) {
  for (;;) {
    const query = new URLSearchParams({ order_id: orderId, node: nodeId });
    try {
      const response = await fetch(`/widget/api/confirmations?${query}`);
      if (response.ok) {
        const { confirmations } = await response.json();
        const text = confirmations === 0 ? "Not confirmed yet." : `${confirmations} confirmation${confirmations === 1 ? "" : "s"}.`;
        $("confirmations").textContent = text;
        $("confirmations").dataset.count = String(confirmations);
        if (confirmations >= DEEP) return;
      }
    } catch {
      // The next poll tries again.
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function orderPage(orderId) {
  const nodeId = new URLSearchParams(location.search).get("node") || "";
  if (!ORDER_ID.test(orderId) || !/^0[23][0-9a-f]{64}$/.test(nodeId)) {
    status("This order link is incomplete: it needs the order id and ?node=<your node id>.");
    return;
  }
  $("order-id").textContent = orderId;
  $("order").hidden = false;
  status("");
  for (;;) {
    try {
      const order = await rpc("lsps1.get_order", { order_id: orderId }, nodeId);
      status("");
      if (render(order)) {
        if (order.channel) await followConfirmations(orderId, nodeId);
        return;
      }
    } catch (error) {
      status(error.code === 101 ? "No such order for this node." : `Cannot reach the LSP: ${error.message}`);
      if (error.code === 101) return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function main() {
  if (embedded) document.body.classList.add("embed");
  const response = await fetch("/widget/api/config");
  config = await response.json();
  const match = location.pathname.match(/\/order\/([^/]+)$/);
  if (match) {
    await orderPage(decodeURIComponent(match[1]));
  } else {
    await buyPage();
  }
}

main().catch((error) => {
  status(`Something went wrong: ${error.message}`);
  problem("main", error.message);
});
