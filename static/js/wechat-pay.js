/* WeChat Pay inside WeChat (JSAPI): opens WeChat's payment sheet with the parameters the
   server signed (<script id="wechat-pay-params">), then goes to the result page. The
   result page believes only the gateway's notification, never this script. */
(function () {
  "use strict";
  var button = document.querySelector("[data-wechat-pay]");
  var paramsElement = document.getElementById("wechat-pay-params");
  if (!button || !paramsElement) { return; }
  var params = JSON.parse(paramsElement.textContent);
  var message = document.querySelector("[data-wechat-pay-message]");

  function say(text) {
    if (message) { message.textContent = text; message.hidden = false; }
  }

  function invoke() {
    window.WeixinJSBridge.invoke("getBrandWCPayRequest", params, function (response) {
      var outcome = (response && response.err_msg) || "";
      if (outcome === "get_brand_wcpay_request:ok") {
        window.location.assign(button.getAttribute("data-result-url"));
      } else if (outcome === "get_brand_wcpay_request:cancel") {
        say(button.getAttribute("data-cancelled") || "");
      } else {
        say(button.getAttribute("data-failed") || "");
      }
    });
  }

  button.addEventListener("click", function () {
    if (window.WeixinJSBridge) {
      invoke();
    } else {
      document.addEventListener("WeixinJSBridgeReady", invoke, false);
    }
  });
})();
