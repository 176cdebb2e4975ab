# Signs the browser's subscription to its own private channel (and nothing else).
class JuggernautAuthController < ApplicationController
  def create
    channel = params.require(:channel)
    return head(:forbidden) unless channel == current_user.channel
    render plain: Juggernaut.sign_subscription(request.headers["X-Session-ID"].to_s, channel)
  end
end
