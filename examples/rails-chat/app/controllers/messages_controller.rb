class MessagesController < ApplicationController
  def create
    chat = current_user.chats.find(params[:id])
    body = params.require(:body).to_s.strip
    return head(:unprocessable_entity) if body.empty? || body.size > 4000
    message = Message.post!(chat: chat, user: current_user, chat_session: current_chat_session,
                            body: body, except: request.headers["X-Session-ID"])
    render json: message.push_data(current_user)
  end
end
